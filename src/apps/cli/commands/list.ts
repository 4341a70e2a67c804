/**
 * `usbms list`: every USB mass-storage interface, by physical port (sysfs-style port path), with VID:PID,
 * serial, speed, kernel driver and LUN count. The same code lists libusb devices and, with --mock, the software
 * disk: both come from a UsbBackend (src/usb/backend.ts). A device attached through USB/IP shows where it really
 * is (`usbip: { host, busid }`, selectable as `usbip:HOST:BUSID`); one this host exports through usbip-host shows
 * as exported, and is neither opened for its LUN count nor used without --force-exported.
 */
import type { Argv } from 'yargs';
import { describeTransportChoice, openUsbms } from '../../../open.js';
import { formatUsbipSelector, hex4, type DeviceListing, type UsbBackend } from '../../../api.js';
import { logger } from '../../../util/log.js';
import { EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { out, printJson, run, sourceOf, type GlobalArgs } from '../context.js';

const log = logger('cli', 'list');

/**
 * LUNs of an interface that nobody holds: open it (Get Max LUN with the engine's fallbacks and the quirks table,
 * or UAS's REPORT LUNS), close. A device the kernel holds, we may not open, or cannot run is left alone: null ('?').
 */
async function lunCount(backend: UsbBackend, d: DeviceListing, transport: string | null): Promise<number | null> {
  if (transport === null) return null;
  if (d.accessDenied || d.kernelDriverActive !== false || d.exported !== undefined) return null;
  try {
    const s = await openUsbms({ backend, device: { kind: 'location', busNumber: d.busNumber, deviceAddress: d.deviceAddress } });
    try {
      return s.hba.maxLun + 1;
    } finally {
      await s.close();
    }
  } catch (e) {
    log('cannot count the LUNs of %s: %s', d.portPath, (e as Error).message);
    return null;
  }
}

/** One `usbms list --json` row: stable keys, the same for every backend. */
export interface ListRow {
  port: string;
  vendorId: string;
  productId: string;
  bus: number;
  address: number;
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
  speed: string;
  interface: number;
  protocol: string;
  /** The transports the interface offers ('bot', 'uas'). */
  transports: string[];
  /** The one a session would run (`--transport` and the quirks considered), or null when none can run. */
  transport: string | null;
  /** Why that one, or why none. */
  transportWhy: string;
  luns: number | null;
  kernelDriverActive: boolean | null;
  accessDenied: boolean;
  mock: boolean;
  /**
   * Attached here through USB/IP: the remote host (as `usbip attach -r` named it) and bus id (null each when the
   * kernel's record is missing), usbipd's TCP port there and the vhci port here.
   */
  usbip: { host: string | null; busid: string | null; tcpPort: number | null; vhciPort: number } | null;
  /** Exported from here through usbip-host: its status and the hosts connected to usbipd (the importers). */
  exported: { status: string; to: string[] } | null;
}

export async function listRows(backend: UsbBackend, choice: { transport?: string | undefined; quirks?: string | undefined } = {}): Promise<ListRow[]> {
  const rows: ListRow[] = [];
  for (const d of await backend.list()) {
    const t = describeTransportChoice(d, choice.transport, choice.quirks);
    rows.push({
      port: d.portPath, vendorId: hex4(d.vendorId), productId: hex4(d.productId), bus: d.busNumber,
      address: d.deviceAddress, serial: d.serialNumber ?? null, manufacturer: d.manufacturer ?? null,
      product: d.product ?? null, speed: d.speed, interface: d.interfaceNumber, protocol: d.protocol,
      transports: t.offered, transport: t.protocol, transportWhy: t.why,
      luns: await lunCount(backend, d, t.protocol), kernelDriverActive: d.kernelDriverActive ?? null,
      accessDenied: d.accessDenied, mock: backend.kind === 'mock',
      usbip: d.usbip === undefined ? null : { host: d.usbip.host ?? null, busid: d.usbip.busid ?? null,
        tcpPort: d.usbip.tcpPort ?? null, vhciPort: d.usbip.vhciPort },
      exported: d.exported === undefined ? null : { status: d.exported.status, to: [...d.exported.to] },
    });
  }
  return rows;
}

/** What USB/IP says of a row: where an attached device really is, or to whom an exported one goes. */
function usbipText(r: ListRow): string {
  const u = r.usbip;
  if (u !== null) {
    if (u.host === null || u.busid === null) return ` usbip: vhci port ${u.vhciPort}, remote host unknown (no readable record in /var/run/vhci_hcd: docs/rigs-usbip.md)`;
    return ` usbip: ${formatUsbipSelector({ host: u.host, busid: u.busid })} (vhci port ${u.vhciPort}; port power on ${u.host})`;
  }
  const x = r.exported;
  if (x === null) return '';
  const to = x.to.length > 0 ? ` by ${x.to.join(', ')}` : '';
  return ` EXPORTED through usbip-host (${x.status}${to}): left out, --force-exported to use it here`;
}

export function formatListRow(r: ListRow): string {
  const driver = r.mock ? 'no (emulated)' : r.kernelDriverActive === null ? 'unknown' : r.kernelDriverActive ? 'bound' : 'none';
  return `${r.port} ${r.vendorId}:${r.productId} bus ${r.bus} address ${r.address} serial ${r.serial ?? '-'} ` +
    `"${r.manufacturer ?? ''}" "${r.product ?? ''}" speed ${r.speed} interface ${r.interface} ${r.protocol} ` +
    `offers ${r.transports.join('+') || 'none'} uses ${r.transport ?? 'none'} (${r.transportWhy}) ` +
    `LUNs ${r.luns ?? '?'} kernel driver: ${driver}${r.accessDenied ? ' (no access: install the udev rule)' : ''}` +
    usbipText(r);
}

async function list(a: GlobalArgs): Promise<number> {
  const { backend } = await sourceOf(a);
  const rows = await listRows(backend, { transport: a.transport, quirks: a.quirks });
  if (a.json) { printJson(rows); return EXIT.OK; }
  if (rows.length === 0) {
    out('no USB mass-storage devices found (try --mock for the built-in emulated disk)');
    return EXIT.OK;
  }
  for (const r of rows) out(formatListRow(r));
  return EXIT.OK;
}

export function registerListCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('list', 'list USB mass-storage interfaces by port path (1-2.3), VID:PID, serial, speed, driver',
    (b) => withExamples(b, 'list'),
    (a) => run(() => list(a as unknown as GlobalArgs)));
}
