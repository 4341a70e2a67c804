/**
 * The UsbPort contract suite (the rules in src/usb/port.ts), for any implementation: the software USB disk, the
 * libusb port on a real or emulated device. It speaks hand-built Bulk-Only Transport (bot-wire.ts), so any BOT
 * mass-storage device with a LUN 0 works. Call it at the top level of a test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbOverflowError, UsbStallError, UsbTimeoutError,
} from '../../src/usb/errors.js';
import type { UsbPort, UsbSpeed, UsbTransfer } from '../../src/usb/port.js';
import { BotWire, buildCbw, cdbs, CBW_LENGTH, CSW_LENGTH } from './bot-wire.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

export interface PortUnderTest {
  port: UsbPort;
  cleanup(): Promise<void>;
  /** Makes the device disappear (mock: unplug; lab: QMP device_del). The disconnect case runs only with it. */
  disconnect?: () => Promise<void> | void;
}

export interface PortContractOptions {
  /**
   * The device STALLs a bulk-IN read when no command is pending, instead of NAKing it (QEMU usb-storage does;
   * BOT allows either). Such a device cannot hold an IN transfer in flight, so the timeout, cancel and
   * close-in-flight cases cannot run against it; a case checking the stall runs instead.
   */
  idleBulkInStalls?: boolean;
  /**
   * The device babbles when the host's IN buffer is smaller than the packet it sends (real hardware does).
   * Emulators that size each packet to the host's request (QEMU) never overflow.
   */
  overflowOnSmallBuffer?: boolean;
  /** The factory returns a `disconnect` hook; the disconnect case runs only then. */
  canDisconnect?: boolean;
}

const MPS_BY_SPEED: Record<UsbSpeed, readonly number[]> = {
  low: [8], full: [8, 16, 32, 64], high: [512], super: [1024], 'super-plus': [1024], unknown: [8, 16, 32, 64, 512, 1024],
};

const elapsedSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export function describePortContract(name: string, makePort: () => Promise<PortUnderTest>,
  options: PortContractOptions = {}): void {
  const idleStalls = options.idleBulkInStalls === true;
  const noIdleReason = 'this device stalls an idle bulk-IN read, so no IN transfer can stay in flight';
  // A conditional case carries the reason it does not run in its name, so reports say why it was skipped.
  const title = (runs: boolean, name: string, why: string): string => (runs ? name : `${name} [skipped: ${why}]`);

  describe(`UsbPort contract: ${name}`, () => {
    let put: PortUnderTest;
    let port: UsbPort;
    let wire: BotWire;

    beforeEach(async () => {
      put = await makePort();
      port = put.port;
      wire = new BotWire(port);
      await wire.resetRecovery(); // start every case from a known BOT state, whatever the last one left
    });
    afterEach(async () => {
      await put.cleanup();
    });

    it('reports sane info: bulk endpoint directions and a max packet size that matches the speed', () => {
      const { info } = port;
      expect(port.closed).toBe(false);
      expect(info.vendorId).toBeGreaterThanOrEqual(0);
      expect(info.vendorId).toBeLessThanOrEqual(0xffff);
      expect(info.endpoints.in & 0x80).toBe(0x80);
      expect(info.endpoints.out & 0x80).toBe(0);
      expect(MPS_BY_SPEED[info.speed]).toContain(info.maxPacketSize.in);
      expect(MPS_BY_SPEED[info.speed]).toContain(info.maxPacketSize.out);
      expect(info.interfaceNumber).toBeGreaterThanOrEqual(0);
    });

    it('runs a normal command: CBW out, INQUIRY data in, CSW in', async () => {
      const data = Buffer.alloc(36);
      const { actual, csw } = await wire.command(cdbs.inquiry(36), data);
      expect(actual).toBe(36);
      expect(csw).toMatchObject({ status: 0, residue: 0 });
      expect(data[0]! & 0x1f).toBeLessThan(0x20); // peripheral device type
      expect(data[4]! + 5).toBeGreaterThanOrEqual(36); // additional length covers the standard fields
    });

    it('completes a short transfer with the bytes received, not an error', async () => {
      const big = Buffer.alloc(512, 0xee);
      const { actual, csw } = await wire.command(cdbs.inquiry(36), big, 36);
      expect(actual).toBe(36);
      expect(csw.status).toBe(0);
      expect(big.subarray(36).every((b) => b === 0xee)).toBe(true); // nothing written past what arrived
    });

    it('runs several transfers in flight on one pipe, completed in order with the right data', async () => {
      await wire.ensureReady();
      const bs = await wire.blockSize();
      const whole = Buffer.alloc(8 * bs);
      const single = await wire.command(cdbs.read10(0, 8), whole);
      expect(single.actual).toBe(8 * bs);
      expect(single.csw.status).toBe(0);

      const target = Buffer.alloc(8 * bs, 0xa5);
      const parts = [0, 1, 2, 3].map((i) => target.subarray(i * 2 * bs, (i + 1) * 2 * bs));
      const transfers = parts.map(() => port.createTransfer('in'));
      const tag = wire.nextTag();
      expect(await wire.out.submit(buildCbw(tag, 8 * bs, true, cdbs.read10(0, 8)), 5000)).toBe(CBW_LENGTH);
      const order: number[] = [];
      const results = await Promise.all(transfers.map((t, i) => t.submit(parts[i]!, 5000).then((n) => {
        order.push(i);
        return n;
      })));
      expect(results).toEqual([2 * bs, 2 * bs, 2 * bs, 2 * bs]);
      expect(order).toEqual([0, 1, 2, 3]);
      expect((await wire.readCsw(tag)).status).toBe(0);
      expect(target.equals(whole)).toBe(true);
    });

    it('reports a stall until reset recovery, then works again', async () => {
      const bad = buildCbw(wire.nextTag(), 0, false, cdbs.testUnitReady());
      bad.writeUInt32LE(0xdeadbeef, 0);
      // The device may stall the invalid CBW itself or accept it; either way bulk-IN must now be halted.
      await wire.out.submit(bad, 2000).catch((e: unknown) => expect(e).toBeInstanceOf(UsbStallError));
      const csw = Buffer.alloc(CSW_LENGTH);
      const first = await wire.in.submit(csw, 2000).then(() => undefined, (e: unknown) => e);
      expect(first).toBeInstanceOf(UsbStallError);
      expect((first as UsbError).code).toBe('USB_STALL');
      await expect(wire.in.submit(csw, 2000)).rejects.toBeInstanceOf(UsbStallError);
      // Clearing the halt alone is not enough after an invalid CBW (BOT §6.6.1): only reset recovery is.
      await port.clearHalt('in');
      await expect(wire.in.submit(csw, 2000)).rejects.toBeInstanceOf(UsbStallError);
      await wire.resetRecovery();
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it.skipIf(idleStalls)(title(!idleStalls, 'times out a read with nothing pending, and the port still works', noIdleReason), async () => {
      const t0 = process.hrtime.bigint();
      const err = await wire.in.submit(Buffer.alloc(CSW_LENGTH), 200).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UsbTimeoutError);
      expect((err as UsbError).code).toBe('USB_TIMEOUT');
      expect((err as UsbError).actualLength).toBe(0);
      expect(elapsedSince(t0)).toBeGreaterThanOrEqual(190);
      expect(elapsedSince(t0)).toBeLessThan(3000);
      expect(wire.in.inFlight).toBe(false);
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it.runIf(idleStalls)(title(idleStalls, 'stalls a read with nothing pending (idleBulkInStalls), reset recovery clears it',
      'this device NAKs an idle bulk-IN read; the timeout case covers it'), async () => {
      await expect(wire.in.submit(Buffer.alloc(CSW_LENGTH), 1000)).rejects.toBeInstanceOf(UsbStallError);
      await wire.resetRecovery();
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it.skipIf(idleStalls)(title(!idleStalls, 'cancels an in-flight read with UsbCancelledError; cancel on an idle transfer is a no-op', noIdleReason), async () => {
      const pending = wire.in.submit(Buffer.alloc(CSW_LENGTH), 0);
      expect(wire.in.inFlight).toBe(true);
      await new Promise((r) => setTimeout(r, 30));
      wire.in.cancel();
      const err = await pending.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UsbCancelledError);
      expect(wire.in.inFlight).toBe(false);
      wire.in.cancel();
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it('rejects submitting a transfer that is already in flight with a UsbmsArgumentError (ARG_INVALID)', async () => {
      const tag = wire.nextTag();
      const cbw = buildCbw(tag, 0, false, cdbs.testUnitReady());
      const first = wire.out.submit(cbw, 5000);
      const second = await wire.out.submit(cbw, 5000).then(() => undefined, (e: unknown) => e);
      expect(second).toBeInstanceOf(UsbmsArgumentError);
      expect((second as UsbmsArgumentError).code).toBe('ARG_INVALID');
      expect(await first).toBe(CBW_LENGTH);
      await wire.readCsw(tag);
    });

    it(idleStalls ? 'closes: later calls reject closed, a second close resolves (no transfer can be in flight here)'
      : 'closes: in-flight transfers reject cancelled, later calls reject closed, a second close resolves', async () => {
      const pending = idleStalls ? undefined : wire.in.submit(Buffer.alloc(CSW_LENGTH), 0);
      const settled = pending?.then(() => undefined, (e: unknown) => e);
      await port.close();
      if (settled !== undefined) expect(await settled).toBeInstanceOf(UsbCancelledError);
      expect(port.closed).toBe(true);
      await expect(wire.in.submit(Buffer.alloc(CSW_LENGTH), 100)).rejects.toBeInstanceOf(UsbClosedError);
      await expect(port.controlIn({ bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: 0 }, 1, 100))
        .rejects.toBeInstanceOf(UsbClosedError);
      await expect(port.clearHalt('in')).rejects.toBeInstanceOf(UsbClosedError);
      await expect(port.resetDevice()).rejects.toBeInstanceOf(UsbClosedError);
      // createTransfer is synchronous: it may throw UsbClosedError, or hand out a transfer that rejects it.
      let late: UsbTransfer | undefined;
      try {
        late = port.createTransfer('in');
      } catch (e) {
        expect(e).toBeInstanceOf(UsbClosedError);
      }
      if (late !== undefined) await expect(late.submit(Buffer.alloc(CSW_LENGTH), 100)).rejects.toBeInstanceOf(UsbClosedError);
      await port.close();
    });

    it('answers Get Max LUN on the control pipe (0..15, or a stall on single-LUN devices)', async () => {
      const setup = { bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: port.info.interfaceNumber };
      const answer = await port.controlIn(setup, 1, 2000).then((b) => b, (e: unknown) => e);
      if (answer instanceof Buffer) {
        expect(answer.length).toBe(1);
        expect(answer[0]).toBeLessThanOrEqual(15);
      } else {
        expect(answer).toBeInstanceOf(UsbStallError);
      }
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it('survives a USB port reset: the same interface is usable afterwards', async () => {
      await port.resetDevice();
      expect(port.closed).toBe(false);
      const data = Buffer.alloc(36);
      expect(await wire.command(cdbs.inquiry(36), data)).toMatchObject({ actual: 36, csw: { status: 0 } });
    });

    it.runIf(options.overflowOnSmallBuffer === true)(title(options.overflowOnSmallBuffer === true,
      'rejects a babbling read with UsbOverflowError', 'the device does not babble into a small buffer (overflowOnSmallBuffer)'), async () => {
      const tag = wire.nextTag();
      await wire.out.submit(buildCbw(tag, 36, true, cdbs.inquiry(36)), 5000);
      const err = await wire.in.submit(Buffer.alloc(8), 5000).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UsbOverflowError);
      expect((err as UsbError).actualLength).toBeLessThanOrEqual(8);
      await wire.resetRecovery();
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    });

    it.runIf(options.canDisconnect === true)(title(options.canDisconnect === true,
      'reports a disconnect: in-flight and later calls reject gone, listeners run once', 'no disconnect hook (canDisconnect)'), async () => {
      expect(put.disconnect, 'canDisconnect is set but the factory returned no disconnect hook').toBeTypeOf('function');
      const seen: UsbError[] = [];
      port.onDisconnect((e) => seen.push(e));
      const pending = idleStalls ? undefined : wire.in.submit(Buffer.alloc(CSW_LENGTH), 0);
      const settled = pending?.then(() => undefined, (e: unknown) => e);
      await put.disconnect!();
      if (settled !== undefined) expect(await settled).toBeInstanceOf(UsbDeviceGoneError);
      await expect(wire.out.submit(buildCbw(wire.nextTag(), 0, false, cdbs.testUnitReady()), 1000))
        .rejects.toBeInstanceOf(UsbDeviceGoneError);
      await expect(port.controlIn({ bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: 0 }, 1, 1000))
        .rejects.toBeInstanceOf(UsbDeviceGoneError);
      await expect(port.clearHalt('in')).rejects.toBeInstanceOf(UsbDeviceGoneError);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(UsbDeviceGoneError);
      await port.close();
      expect(seen).toHaveLength(1);
    });
  });
}
