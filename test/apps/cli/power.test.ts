/**
 * `usbms list` and `usbms power` through the real CLI on the software rig (--mock: the demo disk in port 1 of a
 * software hub with per-port power, on root port 1 of bus 0): the same code as on hardware.
 */
import { describe, expect, it } from 'vitest';
import { usbms } from './run.js';

describe('usbms list --mock', () => {
  it('shows the device by port path first, and as "port" in JSON', async () => {
    const text = await usbms(['list', '--mock']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^0-1\.1 f055:5b00 bus 0 address \d+ serial USBMS-DEMO .* speed high interface 0 BOT offers bot uses bot \(Bulk-Only only\) LUNs 1 /);
    const json = await usbms(['list', '--mock', '--json']);
    const rows = JSON.parse(json.stdout) as { port: string; bus: number; mock: boolean }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ port: '0-1.1', bus: 0, mock: true });
  });

  it('--device PORT opens that device, and a port with nothing in it is NOT_FOUND (exit 15)', async () => {
    const ok = await usbms(['capacity', '--mock=', '--json']);
    expect(ok.code).toBe(0);
    const none = await usbms(['power', 'cycle', '--mock', '--device', '0-1.3']);
    expect(none.code).toBe(15);
    expect(none.stderr).toMatch(/no mass-storage device at 0-1\.3/);
  });
});

describe('usbms power --mock', () => {
  it('cycle: gone and back with a new address, same serial', async () => {
    const r = await usbms(['power', 'cycle', '--mock', '--device', '0-1.1', '--off-ms', '50', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { port: string; device: { serial: string }; addressBefore: number; addressAfter: number };
    expect(j.port).toBe('0-1.1');
    expect(j.device.serial).toBe('USBMS-DEMO');
    expect(j.addressAfter).not.toBe(j.addressBefore);
    expect(r.stderr).toMatch(/power cycling 0-1\.1 \(f055:5b00 serial USBMS-DEMO\)/);
  });

  it('status reports a powered port with a device connected', async () => {
    const r = await usbms(['power', 'status', '--mock', '-d', '0-1.1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ port: '0-1.1', powered: true, connected: true });
  });

  it('a port whose hub cannot switch power is refused with a clear error, not a silent no-op', async () => {
    // 0-1 is the hub's own port, on the software root hub, which has no power switching
    const r = await usbms(['power', 'off', '--mock', '--device', '0-1']);
    expect(r.code).toBe(15); // sg3_utils' "device open problem": USB_NOT_SUPPORTED
    expect(r.stderr).toBe('usbms: hub usb0 cannot switch port power (wHubCharacteristics 0x000a: no power switching); ' +
      'use a hub with per-port power switching\n');
  });

  it('bad input: no --device, a bad port path, a bad --off-ms', async () => {
    const none = await usbms(['power', 'cycle', '--mock']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs --device PORT/);
    const bad = await usbms(['power', 'cycle', '--mock', '-d', '0-1.x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/port 'x' of the port path is not a decimal number/);
    const ms = await usbms(['power', 'cycle', '--mock', '-d', '0-1.1', '--off-ms', '-5']);
    expect(ms.code).toBe(1);
    expect(ms.stderr).toMatch(/--off-ms -5 is not 0\.\.600000 ms/);
    const act = await usbms(['power', 'toggle', '--mock', '-d', '0-1.1']);
    expect(act.code).toBe(1);
  });
});
