/**
 * Linux USB/IP as this host sees it, read from the files the kernel and `usbip` keep (never from `usbip port`'s
 * text, which is for people):
 *
 * - **Imports** (vhci-hcd, `usbip attach`): `/sys/devices/platform/vhci_hcd.0/status`, `status.1` ... (one file per
 *   virtual controller, all on vhci_hcd.0): a header `hub port sta spd dev      sockfd local_busid`, then one line
 *   per port, `ss  0015 006 005 00020002 000003 4-1`: hub speed (hs/ss), port number over all controllers, status
 *   (6 = in use), speed, remote bus<<16|device, the socket's fd in the attaching process, and the local bus id
 *   (the device's sysfs name, `bus-port`, which is libusb's port path). `usbip attach` then writes
 *   `/var/run/vhci_hcd/port<N>`: `HOST TCPPORT BUSID\n` (`127.0.0.1 3240 2-1`), the remote host as it was given to
 *   `-r`, and the bus id on that host. `usbip detach` removes the file; a link that dropped leaves it behind, which
 *   is why a record counts only for a port whose status line says it is in use.
 * - **Exports** (usbip-host, `usbip bind`): `/sys/bus/usb/drivers/usbip-host/<busid>` for every device bound to it,
 *   and `/sys/bus/usb/devices/<busid>/usbip_status` (1 available, 2 in use, 3 error). The kernel does not say which
 *   connection carries which device; the peers of the established TCP connections to usbipd's port
 *   (`/proc/net/tcp`, `/proc/net/tcp6`) are the hosts that import from here.
 *
 * Sources: Linux drivers/usb/usbip/vhci_sysfs.c (status_show_vhci), tools/usb/usbip/src/usbip_attach.c
 * (record_connection) and libsrc/vhci_driver.c (parse_status, read_record); the formats were checked in the lab
 * guest (Debian 6.1, hw-tests/lab/usbip.sh). All roots are parameters so tests read fixture trees.
 */
import { endianness } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../util/log.js';

const log = logger('usb', 'usbip');

/** Where the files live: `/sys`, `/run` (what `/var/run` links to) and `/proc`; tests point them at fixtures. */
export interface UsbipRoots {
  readonly sys: string;
  readonly run: string;
  readonly proc: string;
}

/** The roots of a running Linux system. */
export const LINUX_USBIP_ROOTS: UsbipRoots = { sys: '/sys', run: '/var/run', proc: '/proc' };

/** usbipd's TCP port unless started with `-t` (usbip_common.h USBIP_PORT). */
export const USBIP_PORT = 3240;

/** `enum usbip_device_status` (usbip_common.h): the `sta` column of a vhci status line. */
export const VDEV_ST_USED = 6;

/** One line of a vhci status file. */
export interface VhciPortStatus {
  /** The virtual root hub the port is on: high speed (USB 2) or SuperSpeed. */
  readonly hub: 'hs' | 'ss';
  /** Port number over all vhci controllers (the N of `usbip detach -p N` and of `port<N>`). */
  readonly port: number;
  /** usbip_device_status: 4 free, 5 not assigned, 6 in use, 7 error. */
  readonly status: number;
  /** enum usb_device_speed of the remote device (2 full, 3 high, 5 super). */
  readonly speed: number;
  /** Remote `busnum << 16 | devnum`. */
  readonly devid: number;
  /** The local device's sysfs name, `4-1`; `0-0` when the port is free. */
  readonly localBusid: string;
}

/** What `usbip attach` recorded for a port. */
export interface VhciRecord {
  /** The remote host as `usbip attach -r` was given it (a name or an address). */
  readonly host: string;
  /** usbipd's TCP port there. */
  readonly tcpPort: number;
  /** The device's bus id on that host (`2-1`). */
  readonly busid: string;
}

/** A device attached here through vhci: where it really is. */
export interface UsbipImport {
  /** The remote host; undefined when no record says (attached by another tool, or the record is being written). */
  readonly host: string | undefined;
  /** The bus id on the remote host; undefined as for `host`. */
  readonly busid: string | undefined;
  /** usbipd's TCP port on the remote host (undefined without a record). */
  readonly tcpPort: number | undefined;
  /** The vhci port it is attached to (`usbip detach -p` takes it). */
  readonly vhciPort: number;
  /** Remote bus number and device address (from the status line's devid). */
  readonly remoteBus: number;
  readonly remoteAddress: number;
}

/** usbip_status of an exported device (usbip_common.h: SDEV_ST_AVAILABLE 1, SDEV_ST_USED 2, SDEV_ST_ERROR 3). */
export type UsbipExportStatus = 'available' | 'in-use' | 'error' | 'unknown';

/** A device of this host bound to usbip-host: another host may be using it. */
export interface UsbipExport {
  /** Its bus id here (its port path, `2-1`). */
  readonly busid: string;
  readonly status: UsbipExportStatus;
  /**
   * Hosts with an established connection to this host's usbipd port: the importers. The kernel does not say which
   * connection carries which device, so with several exports in use each lists all of them.
   */
  readonly to: readonly string[];
}

const BUSID = /^\d{1,3}-\d{1,3}(\.\d{1,3})*$/;

/**
 * Parse one vhci status file. Lines that do not have the shape are skipped (logged), never guessed at. Kernels
 * before 4.14 had no hub column; such lines are read with hub 'hs'.
 */
export function parseVhciStatus(text: string): VhciPortStatus[] {
  const out: VhciPortStatus[] = [];
  for (const line of text.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const t = line.trim().split(/\s+/);
    const hub = t[0] === 'hs' || t[0] === 'ss' ? t.shift() as 'hs' | 'ss' : 'hs';
    const [port, status, speed, devid, , localBusid] = t;
    if (port === undefined || status === undefined || speed === undefined || devid === undefined ||
      localBusid === undefined || !/^\d+$/.test(port) || !/^[0-9a-f]+$/i.test(devid)) {
      log('vhci status: skipping %j', line);
      continue;
    }
    out.push({ hub, port: Number(port), status: Number(status), speed: Number(speed), devid: parseInt(devid, 16), localBusid });
  }
  return out;
}

/** Parse `/var/run/vhci_hcd/port<N>`: `HOST TCPPORT BUSID`. Undefined when it does not have that shape. */
export function parseVhciRecord(text: string): VhciRecord | undefined {
  const t = text.trim().split(/\s+/);
  const [host, tcpPort, busid] = t;
  if (t.length !== 3 || host === undefined || tcpPort === undefined || busid === undefined) return undefined;
  if (!/^\d{1,5}$/.test(tcpPort) || !BUSID.test(busid)) return undefined;
  return { host, tcpPort: Number(tcpPort), busid };
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

function listDir(path: string): string[] {
  try { return readdirSync(path); } catch { return []; }
}

/** Every vhci port line of every controller (none when vhci-hcd is not loaded). */
export function readVhciPorts(roots: UsbipRoots = LINUX_USBIP_ROOTS): VhciPortStatus[] {
  const platform = join(roots.sys, 'devices', 'platform');
  const seen = new Map<number, VhciPortStatus>();
  for (const dev of listDir(platform).filter((d) => /^vhci_hcd\.\d+$/.test(d))) {
    for (const file of listDir(join(platform, dev)).filter((f) => /^status(\.\d+)?$/.test(f))) {
      const text = readText(join(platform, dev, file));
      if (text !== undefined) for (const p of parseVhciStatus(text)) seen.set(p.port, p);
    }
  }
  return [...seen.values()].sort((a, b) => a.port - b.port);
}

/** The devices attached here through vhci, by local bus id (their libusb port path). */
export function readUsbipImports(roots: UsbipRoots = LINUX_USBIP_ROOTS): Map<string, UsbipImport> {
  const out = new Map<string, UsbipImport>();
  for (const p of readVhciPorts(roots)) {
    if (p.status !== VDEV_ST_USED || !BUSID.test(p.localBusid)) continue;
    const text = readText(join(roots.run, 'vhci_hcd', `port${p.port}`));
    const record = text === undefined ? undefined : parseVhciRecord(text);
    if (text !== undefined && record === undefined) log('vhci record of port %d unreadable: %j', p.port, text);
    out.set(p.localBusid, {
      host: record?.host, busid: record?.busid, tcpPort: record?.tcpPort, vhciPort: p.port,
      remoteBus: p.devid >>> 16, remoteAddress: p.devid & 0xffff,
    });
  }
  return out;
}

/** A /proc/net/tcp address (`0100007F` or 32 hex digits for tcp6), in the host's byte order per 32-bit word. */
export function procNetAddress(hex: string, littleEndian = endianness() === 'LE'): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => {
    const b = (w.match(/../g) ?? []).map((x) => parseInt(x, 16));
    return littleEndian ? b.reverse() : b;
  });
  if (bytes.length === 4) return bytes.join('.');
  // IPv4-mapped IPv6 (::ffff:a.b.c.d): the IPv4 address, as a person typed it.
  if (bytes.length === 16 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return bytes.slice(12).join('.');
  }
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Remote hosts of established TCP connections whose local port is `port` (`/proc/net/tcp` and `tcp6`). */
export function peersOfLocalPort(roots: UsbipRoots, port: number, littleEndian?: boolean): string[] {
  const peers = new Set<string>();
  for (const file of ['tcp', 'tcp6']) {
    for (const line of (readText(join(roots.proc, 'net', file)) ?? '').split('\n').slice(1)) {
      const [, local, remote, state] = line.trim().split(/\s+/);
      // state 01 is TCP_ESTABLISHED
      if (local === undefined || remote === undefined || state !== '01') continue;
      const [, lport] = local.split(':');
      const [raddr] = remote.split(':');
      if (lport === undefined || raddr === undefined || parseInt(lport, 16) !== port) continue;
      peers.add(procNetAddress(raddr, littleEndian));
    }
  }
  return [...peers];
}

const EXPORT_STATUS: Readonly<Record<string, UsbipExportStatus>> = { 1: 'available', 2: 'in-use', 3: 'error' };

/** The devices of this host bound to usbip-host, by bus id (their port path). */
export function readUsbipExports(roots: UsbipRoots = LINUX_USBIP_ROOTS): Map<string, UsbipExport> {
  const out = new Map<string, UsbipExport>();
  const bound = listDir(join(roots.sys, 'bus', 'usb', 'drivers', 'usbip-host')).filter((e) => BUSID.test(e));
  if (bound.length === 0) return out;
  const peers = peersOfLocalPort(roots, USBIP_PORT);
  for (const busid of bound) {
    const text = readText(join(roots.sys, 'bus', 'usb', 'devices', busid, 'usbip_status'))?.trim() ?? '';
    const status = EXPORT_STATUS[text] ?? 'unknown';
    out.set(busid, { busid, status, to: status === 'in-use' ? peers : [] });
  }
  return out;
}

/** Is bus `busNumber` a vhci-hcd root hub (`/sys/bus/usb/devices/usbN` under a vhci_hcd platform device)? */
export function isVhciBus(busNumber: number, roots: UsbipRoots = LINUX_USBIP_ROOTS): boolean {
  const platform = join(roots.sys, 'devices', 'platform');
  return listDir(platform).some((d) => /^vhci_hcd\.\d+$/.test(d) && listDir(join(platform, d)).includes(`usb${busNumber}`));
}
