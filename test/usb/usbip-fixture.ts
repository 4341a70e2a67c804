/**
 * Fixture trees of the files USB/IP keeps, in the exact formats the lab guest showed (Debian 6.1, one QEMU stick at
 * 2-1 exported through usbip-host and attached back over 127.0.0.1 on vhci port 15 as 4-1; hw-tests/lab/usbip.sh):
 * eight vhci controllers of 30 ports, all status files on vhci_hcd.0, `/var/run/vhci_hcd/port15`, usbip-host's
 * driver directory and /proc/net/tcp with both ends of the loopback connection.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { UsbipRoots } from '../../src/usb/usbip.js';

const HEADER = 'hub port sta spd dev      sockfd local_busid\n';

/** One vhci status file as status_show_vhci writes it: ports `first..first+29`, `used` lines replacing free ones. */
export function vhciStatusFile(controller: number, used: Readonly<Record<number, string>> = {}): string {
  let text = HEADER;
  for (let i = 0; i < 30; i++) {
    const port = controller * 30 + i;
    const hub = i < 15 ? 'hs' : 'ss';
    text += used[port] ?? `${hub}  ${String(port).padStart(4, '0')} 004 000 00000000 000000 0-0\n`;
  }
  return text;
}

/** The line of vhci port 15 with the stick attached (copied from the lab guest). */
export const USED_PORT_15 = 'ss  0015 006 005 00020002 000003 4-1\n';

/** /proc/net/tcp of the lab guest while 4-1 was attached: usbipd listening, both ends of the loopback link. */
export const PROC_NET_TCP =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     \n' +
  '   0: 00000000:0CA8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10778 1 0000000040e09236 100 0 0 10 0                     \n' +
  '   1: 0100007F:0CA8 0100007F:A262 01 00000000:00000000 00:00000000 00000000     0        0 5018 1 000000006c24e6e1 20 4 7 10 -1                      \n' +
  '   2: 0100007F:A262 0100007F:0CA8 01 00000000:00000000 02:000AFA78 00000000     0        0 10787 2 00000000f88e8c6b 20 4 6 10 -1                     \n';

export const PROC_NET_TCP6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
  '   0: 00000000000000000000000000000000:0CA8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10780 1 0000000064a29212 100 0 0 10 0\n';

/** A fixture tree: `files` maps paths under the roots (`sys/...`, `run/...`, `proc/...`) to their contents. */
export class UsbipTree {
  readonly dir = mkdtempSync(join(tmpdir(), 'usbms-usbip-'));
  readonly roots: UsbipRoots = { sys: join(this.dir, 'sys'), run: join(this.dir, 'run'), proc: join(this.dir, 'proc') };

  write(path: string, text: string): this {
    const full = join(this.dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
    return this;
  }

  mkdir(path: string): this { mkdirSync(join(this.dir, path), { recursive: true }); return this; }
  remove(path: string): this { rmSync(join(this.dir, path), { recursive: true, force: true }); return this; }

  /** vhci-hcd loaded (eight controllers, usb3/usb4 the first one's root hubs), `used` lines in place. */
  vhci(used: Readonly<Record<number, string>> = {}): this {
    for (let c = 0; c < 8; c++) {
      this.mkdir(`sys/devices/platform/vhci_hcd.${c}/usb${3 + 2 * c}`).mkdir(`sys/devices/platform/vhci_hcd.${c}/usb${4 + 2 * c}`);
      this.write(`sys/devices/platform/vhci_hcd.0/${c === 0 ? 'status' : `status.${c}`}`, vhciStatusFile(c, used));
    }
    return this.write('sys/devices/platform/vhci_hcd.0/nports', '240\n');
  }

  /** `usbip bind -b BUSID`: the driver's entry for it and its usbip_status (1 available, 2 in use). */
  bound(busid: string, status: number): this {
    this.mkdir(`sys/bus/usb/drivers/usbip-host/${busid}`);
    for (const f of ['bind', 'unbind', 'rebind', 'match_busid', 'uevent']) this.write(`sys/bus/usb/drivers/usbip-host/${f}`, '');
    this.mkdir('sys/bus/usb/drivers/usbip-host/module');
    return this.write(`sys/bus/usb/devices/${busid}/usbip_status`, `${status}\n`);
  }

  /** The state the lab guest showed: 2-1 exported and in use, attached back as 4-1 on vhci port 15. */
  static labGuest(): UsbipTree {
    return new UsbipTree().vhci({ 15: USED_PORT_15 }).write('run/vhci_hcd/port15', '127.0.0.1 3240 2-1\n')
      .bound('2-1', 2).write('proc/net/tcp', PROC_NET_TCP).write('proc/net/tcp6', PROC_NET_TCP6);
  }

  dispose(): void { rmSync(this.dir, { recursive: true, force: true }); }
}
