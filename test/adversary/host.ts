/**
 * The host under test, behind one small adapter: the composition root `openUsbms({ port })` on the adversary's
 * port, with every timeout in ms through the public options. ADV_COMPOSE=manual composes BOT -> HBA -> Disk
 * by hand instead (as test/disk/helpers.ts did before openUsbms took a port), should the root be broken.
 */
import { BotTransport } from '../../src/bot/index.js';
import { Disk } from '../../src/disk/index.js';
import { openUsbms } from '../../src/open.js';
import { UsbmsHba } from '../../src/scsa/index.js';
import type { UsbPort } from '../../src/usb/port.js';

export interface HostConfig {
  cbwMs: number;
  cswMs: number;
  /** Data phase and the HBA's pkt_time of every disk command. */
  commandMs: number;
  controlMs: number;
  retries: number;
  readyPollMs: number;
  readyTimeoutMs: number;
  maxTransferBytes: number;
}

export interface HostSession {
  readonly hba: UsbmsHba;
  readonly disks: (Disk | undefined)[];
  /** Open LUN `lun` (again); rejects with the disk's error. */
  openDisk(lun: number): Promise<Disk>;
  close(): Promise<void>;
}

export async function openHost(port: UsbPort, cfg: HostConfig): Promise<HostSession> {
  const diskOpts = {
    allowWrite: true, retries: cfg.retries, readyPollMs: cfg.readyPollMs, readyTimeoutMs: cfg.readyTimeoutMs,
    timeoutMs: cfg.commandMs,
  };
  const botTimeouts = { cbwMs: cfg.cbwMs, cswMs: cfg.cswMs, dataMs: cfg.commandMs, controlMs: cfg.controlMs };
  if (process.env.ADV_COMPOSE === 'manual') {
    let transport: BotTransport | undefined;
    try {
      transport = await BotTransport.open(port, { timeouts: botTimeouts, maxTransferBytes: cfg.maxTransferBytes });
      const hba = UsbmsHba.attach(transport, { quirks: { senseLun0Only: transport.quirks.senseLun0Only } });
      const disks: (Disk | undefined)[] = [];
      const t = transport;
      return {
        hba, disks,
        async openDisk(lun) { const d = await Disk.open(hba, lun, diskOpts); disks[lun] = d; return d; },
        async close() {
          for (const d of disks) await d?.close().catch(() => undefined);
          await hba.detach().catch(() => undefined);
          await t.close().catch(() => undefined);
          await port.close();
        },
      };
    } catch (e) {
      await transport?.close().catch(() => undefined);
      await port.close().catch(() => undefined);
      throw e;
    }
  }
  // A UAS device gets the same budgets: the COMMAND IU as the CBW, the status as the CSW, task management and
  // control requests as control requests.
  const uasTimeouts = { commandMs: cfg.cbwMs, statusMs: cfg.cswMs, dataMs: cfg.commandMs, tmfMs: cfg.controlMs,
    controlMs: cfg.controlMs };
  const session = await openUsbms({ port, timeoutMs: cfg.commandMs, botTimeouts, uasTimeouts,
    maxTransferBytes: cfg.maxTransferBytes });
  const disks: (Disk | undefined)[] = [];
  return {
    hba: session.hba, disks,
    async openDisk(lun) { const d = await session.openDisk(lun, diskOpts); disks[lun] = d; return d; },
    close: () => session.close(),
  };
}
