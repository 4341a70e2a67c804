/**
 * What the disk driver learns when it opens a LUN: INQUIRY, READ CAPACITY (10, then 16 when the answer is
 * 0xFFFFFFFF or a quirk says so), and the write-protect bit from MODE SENSE(6), falling back to (10).
 * Each function sends its command through the retry policy and checks the answer before trusting it.
 */
import { commands } from '../scsi/index.js';
import { logger } from '../util/log.js';
import type { CdbSpec } from './packet.js';
import type { CommandData, CommandResult } from './retry.js';
import { DiskError, isDiskError } from './errors.js';

const log = logger('disk');

/** How the functions here send a command: the disk's `send(spec, params, data)`. */
export type Send = <P>(spec: CdbSpec<P>, params: P, data?: CommandData) => Promise<CommandResult>;

/** What INQUIRY said about the logical unit. */
export interface InquiryInfo {
  /** Peripheral device type (0 = direct access block device, 5 = CD/DVD). */
  readonly deviceType: number;
  readonly peripheralQualifier: number;
  /** RMB: removable medium. */
  readonly removable: boolean;
  /** VERSION: the SPC version claimed. */
  readonly version: number;
  readonly vendor: string;
  readonly product: string;
  readonly revision: string;
}

/** What READ CAPACITY said (after the FIX_CAPACITY quirk). */
export interface Capacity {
  /** Number of logical blocks (last LBA + 1, after the FIX_CAPACITY quirk). */
  readonly blocks: bigint;
  readonly blockSize: number;
  /** Which command answered. */
  readonly source: 'READ CAPACITY(10)' | 'READ CAPACITY(16)';
}

export interface CapacityQuirks {
  /** READ CAPACITY reports the block count instead of the last LBA: subtract one. */
  readonly fixCapacity?: boolean | undefined;
  /** Never send READ CAPACITY(16). */
  readonly noReadCapacity16?: boolean | undefined;
  /** Send READ CAPACITY(16) first (devices whose (10) answer is wrong for big media). */
  readonly readCapacity16?: boolean | undefined;
}

/** Standard INQUIRY data is 36 bytes; ask for 96 so vendor fields in the extended part are not cut off. */
const INQUIRY_LENGTH = 96;
const STANDARD_INQUIRY_LENGTH = 36;
/** READ CAPACITY(16): 32 bytes of parameter data, of which the first 16 carry the fields decoded here. */
const RC16_LENGTH = 32;
const RC16_DECODED_BYTES = 16;

/** A decoder's complaint about a device's answer is a disk error (bad-response), with the decoder's as cause. */
function decoded<T>(command: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw new DiskError('bad-response', `${command}: the device's answer cannot be decoded: ${(e as Error).message}`,
      { cause: e });
  }
}

export async function inquiry(send: Send): Promise<InquiryInfo> {
  const data = Buffer.alloc(INQUIRY_LENGTH);
  const r = await send(commands.inquiry, { allocationLength: INQUIRY_LENGTH },
    { dataIn: data, allowResid: true, minBytes: STANDARD_INQUIRY_LENGTH });
  const d = decoded('INQUIRY', () => commands.inquiry.decodeData(data, INQUIRY_LENGTH - r.resid));
  return {
    deviceType: d.peripheralDeviceType, peripheralQualifier: d.peripheralQualifier, removable: d.removable,
    version: d.version, vendor: d.vendor, product: d.product, revision: d.revision,
  };
}

function checkBlockSize(blockSize: number, source: string): void {
  // SBC: the logical block length is a power of two; anything else (0 in particular) is a broken answer.
  if (blockSize < 512 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) {
    throw new DiskError('bad-response', `${source} reported a block length of ${blockSize} bytes`);
  }
}

async function readCapacity10(send: Send): Promise<{ lastLba: bigint; blockSize: number }> {
  const data = Buffer.alloc(8);
  await send(commands.readCapacity10, {}, { dataIn: data, minBytes: 8 });
  const d = decoded('READ CAPACITY(10)', () => commands.readCapacity10.decodeData(data));
  return { lastLba: BigInt(d.returnedLba), blockSize: d.blockLength };
}

async function readCapacity16(send: Send): Promise<{ lastLba: bigint; blockSize: number }> {
  const data = Buffer.alloc(RC16_LENGTH);
  const r = await send(commands.readCapacity16, { allocationLength: RC16_LENGTH },
    { dataIn: data, allowResid: true, minBytes: RC16_DECODED_BYTES });
  const d = decoded('READ CAPACITY(16)', () => commands.readCapacity16.decodeData(data, RC16_LENGTH - r.resid));
  return { lastLba: d.returnedLba, blockSize: d.blockLength };
}

export async function readCapacity(send: Send, quirks: CapacityQuirks): Promise<Capacity> {
  let source: Capacity['source'] = 'READ CAPACITY(10)';
  let answer: { lastLba: bigint; blockSize: number } | undefined;
  if (quirks.readCapacity16 === true && quirks.noReadCapacity16 !== true) {
    answer = await readCapacity16(send);
    source = 'READ CAPACITY(16)';
  } else {
    answer = await readCapacity10(send);
    // 0xFFFFFFFF: "the capacity does not fit, ask READ CAPACITY(16)" (SBC-4 5.16.2).
    if (answer.lastLba === 0xffff_ffffn && quirks.noReadCapacity16 !== true) {
      answer = await readCapacity16(send);
      source = 'READ CAPACITY(16)';
    }
  }
  checkBlockSize(answer.blockSize, source);
  const blocks = quirks.fixCapacity === true ? answer.lastLba : answer.lastLba + 1n;
  if (blocks < 1n) throw new DiskError('bad-response', `${source} reported an empty medium`);
  log('capacity: %s blocks of %d bytes (%s%s)', blocks, answer.blockSize, source,
    quirks.fixCapacity === true ? ', FIX_CAPACITY' : '');
  return { blocks, blockSize: answer.blockSize, source };
}

/** The bits of the mode parameter header's DEVICE-SPECIFIC PARAMETER the disk driver uses (SBC-4 6.5.1). */
export interface DeviceParameter {
  /** WP: the medium is write protected. */
  readonly writeProtected: boolean;
  /** DPOFUA: the device honours the FUA bit of READ/WRITE (10/16). */
  readonly dpofua: boolean;
}

/**
 * The WP and DPOFUA bits of the DEVICE-SPECIFIC PARAMETER in the mode parameter header (SBC-4 6.5.1). MODE
 * SENSE(6) page 0x3F as EDK2 sends it; devices that reject (6) get (10); a device that supports neither is taken
 * as writable without FUA (the write itself will then fail with DATA PROTECT if it is not writable).
 */
export async function readDeviceParameter(send: Send): Promise<DeviceParameter> {
  const data = Buffer.alloc(192);
  const bits = (d: { writeProtected: boolean; dpofua: boolean }): DeviceParameter =>
    ({ writeProtected: d.writeProtected, dpofua: d.dpofua });
  try {
    const r = await send(commands.modeSense6, { dbd: true, pageCode: 0x3f, allocationLength: 192 },
      { dataIn: data, allowResid: true });
    if (192 - r.resid >= 4) return bits(commands.modeSense6.decodeData(data, 192 - r.resid));
  } catch (e) {
    if (!isDiskError(e, 'illegal-request') && !isDiskError(e, 'transport')) throw e;
    log('MODE SENSE(6) failed (%s), trying MODE SENSE(10)', (e as Error).message);
  }
  try {
    const r = await send(commands.modeSense10, { dbd: true, pageCode: 0x3f, allocationLength: 192 },
      { dataIn: data, allowResid: true });
    if (192 - r.resid >= 8) return bits(commands.modeSense10.decodeData(data, 192 - r.resid));
  } catch (e) {
    if (!isDiskError(e, 'illegal-request') && !isDiskError(e, 'transport')) throw e;
    log('MODE SENSE(10) failed too (%s): assuming not write protected', (e as Error).message);
  }
  return { writeProtected: false, dpofua: false };
}
