/**
 * The hardware suite's configuration, read once from the environment. Nothing here touches a device.
 *
 *   USBMS_TEST_DEVICE          the device under test: vid:pid[:serial] (hex), bus:address (decimal), a port
 *                              path or usbip:HOST:BUSID (a device attached through USB/IP). Without it
 *                              every case is skipped, and says so in its name.
 *   USBMS_TEST_IMAGE           the raw image behind LUN 0 (comma-separated, in LUN order, for more LUNs): reads
 *                              are compared with it.
 *   USBMS_DESTRUCTIVE_OK       the serial number of the device that write checks may overwrite (and restore).
 *                              Writes are never done on a disk the kernel has a filesystem of mounted.
 *   USBMS_TEST_STAMP_LBA       (lab) leave one stamp block at this LBA so the host can see the write arrived.
 *   USBMS_TEST_EXPECT=no-bot   the device has no Bulk-Only interface (a UAS-only device): only that is checked.
 *   USBMS_TEST_EXPECT=uas      the device runs UAS (usbms chooses it): every case through the session runs on it,
 *                              the Bulk-Only engine's own cases are skipped, the UAS transport contract runs.
 *   USBMS_TEST_EXPECT_WRITE_PROTECT=1   the medium is write protected: writes must fail with DATA PROTECT.
 *   USBMS_TEST_REQUIRE_KERNEL_DRIVER=1  fail (instead of skip) when no kernel driver is bound to the interface.
 *   USBMS_TEST_REPORT          name of the JUnit/summary files under hw-tests/reports/ (default "hw").
 *   USBMS_TEST_PCAP            DIR/NAME.pcap: write a usbmon pcap of every session the suite opens (src/usb/trace),
 *                              as DIR/NAME.<pid>.<n>.pcap, one per session (Wireshark and `usbms --replay` read them).
 */
export interface HwEnv {
  readonly device: string | undefined;
  readonly images: readonly string[];
  readonly destructiveSerial: string | undefined;
  readonly stampLba: number | undefined;
  readonly expectNoBot: boolean;
  readonly expectUas: boolean;
  readonly expectWriteProtect: boolean;
  readonly requireKernelDriver: boolean;
  readonly pcap: string | undefined;
}

/** A setting the suite cannot work with: a clear error before any device is touched. */
export class HwConfigError extends Error {
  override readonly name = 'HwConfigError';
  readonly code = 'HW_CONFIG';
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());
const flag = (v: string | undefined): boolean => v === '1' || v === 'true' || v === 'yes';

export function readHwEnv(env: NodeJS.ProcessEnv): HwEnv {
  const stamp = nonEmpty(env.USBMS_TEST_STAMP_LBA);
  if (stamp !== undefined && !/^\d+$/.test(stamp)) {
    throw new HwConfigError(`USBMS_TEST_STAMP_LBA='${stamp}' is not a block number`);
  }
  const expect = nonEmpty(env.USBMS_TEST_EXPECT);
  if (expect !== undefined && expect !== 'no-bot' && expect !== 'uas') {
    throw new HwConfigError(`USBMS_TEST_EXPECT='${expect}': say no-bot or uas`);
  }
  return {
    device: nonEmpty(env.USBMS_TEST_DEVICE),
    images: (nonEmpty(env.USBMS_TEST_IMAGE) ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    destructiveSerial: nonEmpty(env.USBMS_DESTRUCTIVE_OK),
    stampLba: stamp === undefined ? undefined : Number(stamp),
    expectNoBot: expect === 'no-bot',
    expectUas: expect === 'uas',
    expectWriteProtect: flag(env.USBMS_TEST_EXPECT_WRITE_PROTECT),
    requireKernelDriver: flag(env.USBMS_TEST_REQUIRE_KERNEL_DRIVER),
    pcap: nonEmpty(env.USBMS_TEST_PCAP),
  };
}

export const hw: HwEnv = readHwEnv(process.env);

export const NO_DEVICE_REASON = 'no device: set USBMS_TEST_DEVICE=vid:pid[:serial] or bus:address';

/** Why the cases of the Bulk-Only engine itself do not run (undefined: they run). */
export const botSkipReason: string | undefined = hw.device === undefined ? NO_DEVICE_REASON
  : hw.expectNoBot ? 'USBMS_TEST_EXPECT=no-bot: the device has no Bulk-Only interface'
    : hw.expectUas ? 'USBMS_TEST_EXPECT=uas: the device runs UAS, these are the Bulk-Only engine\'s cases' : undefined;

/** Why the cases that go through a session (openUsbms, whichever transport it chooses) do not run. */
export const sessionSkipReason: string | undefined = hw.device === undefined ? NO_DEVICE_REASON
  : hw.expectNoBot ? 'USBMS_TEST_EXPECT=no-bot: the device has no Bulk-Only interface' : undefined;

/** Why the UAS cases do not run. */
export const uasSkipReason: string | undefined = hw.device === undefined ? NO_DEVICE_REASON
  : hw.expectUas ? undefined : 'the device is not expected to run UAS (USBMS_TEST_EXPECT=uas)';

/** A suite title that carries the reason it is skipped, so the reports say why. */
export function titled(title: string, skipReason: string | undefined): string {
  return skipReason === undefined ? title : `${title} [skipped: ${skipReason}]`;
}
