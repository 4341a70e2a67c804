/**
 * A validation run over local and USB/IP sticks at once (software rig whose rows carry the USB/IP side): --all
 * counts an exported-and-attached stick once, events and JUnit name the remote host and bus id, a dropped link is
 * a vanished device found again by its remote name on another vhci port, and port power is out of reach.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MockBackend } from '../../../src/mock/backend.js';
import {
  describeKey, junitXml, keyFileName, parsePlan, resolvePlan, rigDevicesOf, RigSelectError, runRig, selectRigDevices,
  type RigDevice,
} from '../../../src/apps/rig/index.js';
import type { UsbipImport } from '../../../src/usb/usbip.js';
import { collector, stepEvents, stick } from './helpers.js';

const imported = (vhciPort: number): UsbipImport =>
  ({ host: '127.0.0.1', busid: '2-1', tcpPort: 3240, vhciPort, remoteBus: 2, remoteAddress: 2 });

let backend: MockBackend | undefined;
afterEach(() => { backend?.dispose(); backend = undefined; });

/** 0-1.1 a local stick; 0-1.2 exported (the original); 0-2.1 the same stick attached back through "vhci". */
async function lab(): Promise<{ b: MockBackend; remote: ReturnType<typeof stick> }> {
  const b = new MockBackend({ enumerationDelayMs: 5 });
  backend = b;
  b.addHub('0-1', { ports: 4 });
  b.addHub('0-2', { ports: 4 });
  const remote = stick('USBVM0');
  await b.plug('0-1.1', stick('LOCAL'));
  await b.plug('0-1.2', stick('USBVM0'), { exported: { busid: '0-1.2', status: 'in-use', to: ['127.0.0.1'] } });
  await b.plug('0-2.1', remote, { usbip: imported(15) });
  return { b, remote };
}

describe('selecting a rig with USB/IP devices', () => {
  it('--all takes the local stick and the import, and leaves the export out, saying why', async () => {
    const { b } = await lab();
    const s = selectRigDevices(await rigDevicesOf(b), { all: true });
    expect(s.devices.map((d) => describeKey(d.key))).toEqual(['0-1.1 f055:5b00 LOCAL', 'usbip:127.0.0.1:2-1 (0-2.1) f055:5b00 USBVM0']);
    expect(s.excluded).toEqual(['0-1.2 f055:5b00 USBVM0: exported through usbip-host (another host uses it), left out']);
  });

  it('naming the export is refused unless --force-exported; --device usbip:HOST:BUSID names the import', async () => {
    const { b } = await lab();
    const present = await rigDevicesOf(b);
    expect(() => selectRigDevices(present, { devices: ['0-1.2'] })).toThrow(RigSelectError);
    expect(() => selectRigDevices(present, { devices: ['0-1.2'] })).toThrow(/exported through usbip-host.*--force-exported/);
    expect(selectRigDevices(present, { devices: ['0-1.2'], forceExported: true }).devices).toHaveLength(1);
    const [d] = selectRigDevices(present, { devices: ['usbip:127.0.0.1:2-1'] }).devices;
    expect(d?.key).toMatchObject({ port: '0-2.1', usbip: { host: '127.0.0.1', busid: '2-1' } });
    expect(keyFileName(d!.key)).toBe('usbip_127.0.0.1_2-1_f055-5b00_USBVM0');
  });
});

describe('validate over local and USB/IP sticks at once', () => {
  it('quick: both pass; events and JUnit name the remote host and bus id', async () => {
    const { b } = await lab();
    const { devices } = selectRigDevices(await rigDevicesOf(b), { all: true });
    const { events, onEvent } = collector();
    const r = await runRig(devices, { plan: resolvePlan('quick'), write: false, seed: 1, onEvent, readyPollMs: 5 });
    expect(r.devices.map((d) => [d.device.key.serial, d.status])).toEqual([['LOCAL', 'pass'], ['USBVM0', 'pass']]);
    const remote = stepEvents(events, '0-2.1')[0];
    expect(remote?.device).toEqual({ port: '0-2.1', vidPid: 'f055:5b00', serial: 'USBVM0', usbip: { host: '127.0.0.1', busid: '2-1' } });
    expect(stepEvents(events, '0-1.1')[0]?.device.usbip).toBeNull();
    const xml = junitXml(r, 'quick');
    expect(xml).toContain('<property name="usbipHost" value="127.0.0.1"/>');
    expect(xml).toContain('<property name="usbipBusid" value="2-1"/>');
    expect(xml).toContain('classname="usbms.validate.usbip:127.0.0.1:2-1"');
  });

  it('a dropped link is a vanished device, found again by its remote name on another vhci port', async () => {
    const { b, remote } = await lab();
    const { devices } = selectRigDevices(await rigDevicesOf(b), { all: true });
    const { events, onEvent } = collector();
    const spy = (e: Parameters<typeof onEvent>[0]): void => {
      onEvent(e);
      if (e.event === 'step-start' && e.device.usbip !== null && e.step === 'sequential-read') {
        // the link drops (usbip detach, or the exporting host goes away), then `usbip attach` puts it on port 0-2.3
        setTimeout(() => { b.unplug('0-2.1'); setTimeout(() => { void b.plug('0-2.3', remote, { usbip: imported(17) }); }, 50); }, 2);
      }
    };
    const r = await runRig(devices, { plan: resolvePlan('quick'), write: false, seed: 1, onEvent: spy, readyPollMs: 5,
      returnTimeoutMs: 5000 });
    const seen = events.filter((e) => e.device.usbip !== null).map((e) => e.event);
    expect(seen).toEqual(expect.arrayContaining(['vanished', 'returned']));
    // from the return on, events name the vhci port the stick is on now (with the same remote name)
    expect(events.find((e) => e.event === 'vanished')?.device.port).toBe('0-2.1');
    expect(events.find((e) => e.event === 'returned')?.device).toMatchObject({ port: '0-2.3', usbip: { host: '127.0.0.1', busid: '2-1' } });
    const after = stepEvents(events, '0-2.3').find((e) => e.step === 'random-read');
    expect(after?.status).toBe('pass'); // the plan went on with the device on its new port
    const remoteResult = r.devices.find((d) => d.device.key.serial === 'USBVM0');
    expect(remoteResult?.device.key.port).toBe('0-2.3');
    expect(describeKey(remoteResult!.device.key)).toBe('usbip:127.0.0.1:2-1 (0-2.3) f055:5b00 USBVM0');
    expect(r.devices.find((d) => d.device.key.serial === 'LOCAL')?.status).toBe('pass');
  });

  it('a journal is resumed when the stick is attached on another vhci port (same remote name)', async () => {
    const { b, remote } = await lab();
    const dir = mkdtempSync(join(tmpdir(), 'usbms-usbip-journal-'));
    const pick = async (): Promise<RigDevice[]> => selectRigDevices(await rigDevicesOf(b), { devices: ['usbip:127.0.0.1:2-1'] }).devices;
    await runRig(await pick(), { plan: resolvePlan('quick'), write: false, seed: 7, journalDir: dir, readyPollMs: 5 });
    // `usbip detach`, and the next `usbip attach` lands on another vhci port
    b.unplug('0-2.1');
    await b.plug('0-2.4', remote, { usbip: imported(18) });
    const { events, onEvent } = collector();
    const r = await runRig(await pick(), { plan: resolvePlan('quick'), write: false, seed: 99, journalDir: dir, onEvent, readyPollMs: 5 });
    expect(r.devices[0]?.device.key.port).toBe('0-2.4');
    expect(events.find((e) => e.event === 'start')).toMatchObject({ seed: 7, resumed: true, device: { port: '0-2.4' } });
    expect(stepEvents(events, '0-2.4').every((e) => e.resumed)).toBe(true);
  });

  it('a power cycle step over USB/IP is skipped with the recipe for the host that holds the hub', async () => {
    const { b } = await lab();
    const { devices } = selectRigDevices(await rigDevicesOf(b), { devices: ['usbip:127.0.0.1:2-1'] });
    expect(devices[0]?.powerCycle).toBeUndefined();
    const plan = parsePlan({ name: 'pc', steps: [{ step: 'power-cycle' }] }, 'pc.json');
    const r = await runRig(devices, { plan, write: true, seed: 1, readyPollMs: 5 });
    expect(r.devices[0]?.steps[0]).toMatchObject({ status: 'skip' });
    expect(r.devices[0]?.steps[0]?.reason).toMatch(/hub is on 127\.0\.0\.1.*usbms power cycle --device 2-1/);
  });
});
