/**
 * Logical block provisioning from the host's side: what the device says it can deallocate (VPD 0xB2: LBPU,
 * LBPWS, LBPRZ; VPD 0xB0: how much per command), and the UNMAP / WRITE SAME(16) commands cut to those limits.
 *
 * The VPD pages are read only when asked (Disk.provisioning) and only from a device that claims SPC-2 or later:
 * many USB sticks hang or babble on INQUIRY with EVPD, which is why Linux's usb-storage skips VPD pages altogether
 * (scsiglue.c: skip_vpd_pages). A device that says nothing is taken as fully provisioned: nothing to deallocate.
 */
import { commands, decodeVpdPage, encodeUnmapList, UNMAP_DESCRIPTOR_LENGTH, UNMAP_HEADER_LENGTH } from '../scsi/index.js';
import { logger } from '../util/log.js';
import { isDiskError } from './errors.js';
import type { Send } from './identify.js';

const log = logger('disk');

/** What the device says about deallocating blocks (VPD pages 0xB2 and 0xB0). */
export interface Provisioning {
  /** UNMAP is supported (LBPU, and a non-zero MAXIMUM UNMAP LBA COUNT when the limits are reported). */
  readonly unmap: boolean;
  /** WRITE SAME(16) with the UNMAP bit is supported (LBPWS). */
  readonly writeSameUnmap: boolean;
  /** A deallocated block reads as zeros (LBPRZ not 0). */
  readonly unmappedReadsZero: boolean;
  /** MAXIMUM UNMAP LBA COUNT (blocks per UNMAP); 0 when not reported. */
  readonly maxUnmapBlocks: number;
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT; 0 when not reported. */
  readonly maxUnmapDescriptors: number;
  /** MAXIMUM WRITE SAME LENGTH in blocks; 0n when not reported. */
  readonly maxWriteSameBlocks: bigint;
}

/** Nothing can be deallocated (the answer for a device without the pages). */
export const FULLY_PROVISIONED: Provisioning = {
  unmap: false, writeSameUnmap: false, unmappedReadsZero: false, maxUnmapBlocks: 0, maxUnmapDescriptors: 0,
  maxWriteSameBlocks: 0n,
};

/** INQUIRY VERSION 4 = SPC-2: the first standard that has the VPD pages this needs. */
const SPC2 = 4;

/** Read VPD 0x00, then 0xB2 and 0xB0 when listed; any refusal or garbage means fully provisioned. */
export async function readProvisioning(inquiryVpd: (page: number) => Promise<Buffer>, version: number)
  : Promise<Provisioning> {
  if (version < SPC2) return FULLY_PROVISIONED;
  try {
    const supported = decodeVpdPage(await inquiryVpd(0x00));
    if (supported.kind !== 'supported-pages' || !supported.pages.includes(0xb2)) return FULLY_PROVISIONED;
    const lbp = decodeVpdPage(await inquiryVpd(0xb2));
    if (lbp.kind !== 'logical-block-provisioning') return FULLY_PROVISIONED;
    const p = lbp.provisioning;
    let limits = { maxUnmapBlocks: 0, maxUnmapDescriptors: 0, maxWriteSameBlocks: 0n };
    if (supported.pages.includes(0xb0)) {
      const bl = decodeVpdPage(await inquiryVpd(0xb0));
      if (bl.kind === 'block-limits') {
        limits = { maxUnmapBlocks: bl.limits.maxUnmapLbaCount ?? 0, maxUnmapDescriptors: bl.limits.maxUnmapDescriptorCount ?? 0,
          maxWriteSameBlocks: bl.limits.maxWriteSameLength ?? 0n };
      }
    }
    // SBC-4 6.6.4: a MAXIMUM UNMAP LBA COUNT of 0 means the device has no UNMAP, whatever LBPU says.
    const reported = supported.pages.includes(0xb0);
    const unmap = p.lbpu && (!reported || (limits.maxUnmapBlocks > 0 && limits.maxUnmapDescriptors > 0));
    return { unmap, writeSameUnmap: p.lbpws, unmappedReadsZero: p.lbprz !== 0, ...limits };
  } catch (e) {
    if (!isDiskError(e)) throw e;
    log('VPD pages for provisioning not readable (%s): fully provisioned', e.message);
    return FULLY_PROVISIONED;
  }
}

/** When the device does not report a limit: blocks per UNMAP descriptor and per WRITE SAME. */
const UNREPORTED_UNMAP_BLOCKS = 0xffff_ffff;
const UNREPORTED_WRITE_SAME_BLOCKS = 0x1_0000;
/** The UNMAP parameter list length is 16 bits: at most this many descriptors in one list. */
const LIST_DESCRIPTORS = Math.floor((0xffff - UNMAP_HEADER_LENGTH) / UNMAP_DESCRIPTOR_LENGTH);

/**
 * UNMAP `blocks` blocks from `lba`, in as few commands as the limits allow (each descriptor at most
 * maxUnmapBlocks, each list at most maxUnmapDescriptors).
 */
export async function unmapRange(send: Send, p: Provisioning, lba: bigint, blocks: bigint): Promise<void> {
  const perDescriptor = BigInt(p.maxUnmapBlocks > 0 ? p.maxUnmapBlocks : UNREPORTED_UNMAP_BLOCKS);
  const perList = Math.min(LIST_DESCRIPTORS, p.maxUnmapDescriptors > 0 ? p.maxUnmapDescriptors : LIST_DESCRIPTORS);
  const descriptors: { lba: bigint; blocks: number }[] = [];
  const list = Buffer.alloc(UNMAP_HEADER_LENGTH + UNMAP_DESCRIPTOR_LENGTH * Math.min(perList,
    Number((blocks + perDescriptor - 1n) / perDescriptor)));
  let at = lba;
  const end = lba + blocks;
  while (at < end) {
    descriptors.length = 0;
    const first = at;
    while (at < end && descriptors.length < perList) {
      const n = end - at < perDescriptor ? end - at : perDescriptor;
      descriptors.push({ lba: at, blocks: Number(n) });
      at += n;
    }
    const length = encodeUnmapList(descriptors, list);
    const data = list.subarray(0, length);
    await send(commands.unmap, { parameterListLength: length },
      { dataOut: data, lba: first, blocks: Number(at - first) });
  }
}

/**
 * WRITE SAME(16) of `block` (one logical block) over `blocks` blocks from `lba`, with the UNMAP bit when asked,
 * cut at the device's MAXIMUM WRITE SAME LENGTH.
 */
export async function writeSameRange(send: Send, p: Provisioning, lba: bigint, blocks: bigint, block: Buffer,
  unmap: boolean): Promise<void> {
  const limit = p.maxWriteSameBlocks > 0n ? p.maxWriteSameBlocks : BigInt(UNREPORTED_WRITE_SAME_BLOCKS);
  const perCommand = limit < 0xffff_ffffn ? limit : 0xffff_ffffn;
  for (let at = lba; at < lba + blocks;) {
    const n = Number(lba + blocks - at < perCommand ? lba + blocks - at : perCommand);
    const first = at;
    await send(commands.writeSame16, { lba: first, blocks: n, unmap }, { dataOut: block, lba: first, blocks: n });
    at += BigInt(n);
  }
}
