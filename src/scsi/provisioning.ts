/**
 * Logical block provisioning commands (SBC-4 5.31, 5.50): UNMAP (0x42) with its parameter list of block
 * descriptors, and WRITE SAME(16) (0x93) whose UNMAP bit lets the device deallocate instead of writing. A device
 * says which it takes in the Logical Block Provisioning VPD page (0xB2: LBPU, LBPWS) and how much per command in
 * the Block Limits page (0xB0); see vpd.ts.
 */
import { ScsiDataError, ScsiParamError } from './errors.js';
import { bitsAt, flag } from './fields.js';
import { countField, defineCommand, lbaField, type ControlParam } from './spec.js';

export interface UnmapParams extends ControlParam {
  /** ANCHOR: anchor the blocks instead of deallocating them. */
  anchor?: boolean;
  groupNumber?: number;
  /** PARAMETER LIST LENGTH: bytes of the parameter list (8 + 16 per descriptor). */
  parameterListLength: number;
}

export const unmap = defineCommand<UnmapParams>({
  name: 'UNMAP', opcode: 0x42, cdbLength: 10, direction: 'out',
  fields: [flag('anchor', 1, 0), bitsAt('groupNumber', 6, 0, 5), countField('parameterListLength', 7, 2)],
  dataLength: (p) => p.parameterListLength,
});

export interface WriteSameParams extends ControlParam {
  lba: bigint;
  blocks: number;
  /** WRPROTECT, 0..7. */
  wrprotect?: number;
  anchor?: boolean;
  /** UNMAP: the device may deallocate the blocks (they then read as the LBPRZ setting says). */
  unmap?: boolean;
  /** NDOB: no data-out buffer; the blocks are written as zeros. */
  ndob?: boolean;
  groupNumber?: number;
}

/** WRITE SAME(16): one block of data-out (none with NDOB) written over `blocks` blocks from `lba`. */
export const writeSame16 = defineCommand<WriteSameParams>({
  name: 'WRITE SAME(16)', opcode: 0x93, cdbLength: 16, direction: 'out',
  fields: [
    bitsAt<WriteSameParams>('wrprotect', 1, 5, 3), flag<WriteSameParams>('anchor', 1, 4),
    flag<WriteSameParams>('unmap', 1, 3), flag<WriteSameParams>('ndob', 1, 0),
    lbaField<WriteSameParams>(2, 8), countField<WriteSameParams>('blocks', 10, 4),
    bitsAt<WriteSameParams>('groupNumber', 14, 0, 6),
  ],
  dataLength: (p, blockSize = 512) => (p.ndob === true ? 0 : blockSize),
});

/** One UNMAP block descriptor: `blocks` blocks from `lba`. */
export interface UnmapDescriptor { lba: bigint; blocks: number }

/** The UNMAP parameter list header: 8 bytes. */
export const UNMAP_HEADER_LENGTH = 8;
/** One UNMAP block descriptor: 16 bytes. */
export const UNMAP_DESCRIPTOR_LENGTH = 16;

/**
 * Write the UNMAP parameter list for `descriptors` into `into` (at least 8 + 16 per descriptor bytes) and return
 * its length: UNMAP DATA LENGTH (n - 2), UNMAP BLOCK DESCRIPTOR DATA LENGTH (n - 8), then LBA (8), count (4),
 * reserved (4) each.
 */
export function encodeUnmapList(descriptors: readonly UnmapDescriptor[], into: Buffer): number {
  const n = UNMAP_HEADER_LENGTH + UNMAP_DESCRIPTOR_LENGTH * descriptors.length;
  if (into.length < n) throw new ScsiParamError('SCSI_PARAM_RANGE', `an UNMAP list of ${descriptors.length} descriptors needs ${n} bytes`);
  if (n > 0xffff) throw new ScsiParamError('SCSI_PARAM_RANGE', `an UNMAP list is at most 65535 bytes, ${n} asked`);
  into.fill(0, 0, n);
  into.writeUInt16BE(n - 2, 0);
  into.writeUInt16BE(n - UNMAP_HEADER_LENGTH, 2);
  descriptors.forEach((d, i) => {
    const at = UNMAP_HEADER_LENGTH + UNMAP_DESCRIPTOR_LENGTH * i;
    if (d.lba < 0n || d.lba > 0xffff_ffff_ffff_ffffn) throw new ScsiParamError('SCSI_PARAM_RANGE', `lba=${d.lba} out of range`, 'lba');
    if (!Number.isInteger(d.blocks) || d.blocks < 0 || d.blocks > 0xffff_ffff) {
      throw new ScsiParamError('SCSI_PARAM_RANGE', `blocks=${d.blocks} out of range 0..4294967295`, 'blocks');
    }
    into.writeBigUInt64BE(d.lba, at);
    into.writeUInt32BE(d.blocks, at + 8);
  });
  return n;
}

/**
 * Decode an UNMAP parameter list as a device receives it (`length` bytes arrived). The lengths in the header
 * must agree with each other and with what arrived (SBC-4 5.31.2: a list whose descriptor length is not a
 * multiple of 16 is invalid).
 */
export function decodeUnmapList(b: Uint8Array, length = b.length): UnmapDescriptor[] {
  const n = Math.min(length, b.length);
  if (n === 0) return [];
  if (n < UNMAP_HEADER_LENGTH) throw new ScsiDataError('SCSI_DATA_SHORT', `UNMAP parameter list needs an 8-byte header, got ${n}`);
  const v = new DataView(b.buffer, b.byteOffset, n);
  const descriptorBytes = v.getUint16(2);
  if (descriptorBytes % UNMAP_DESCRIPTOR_LENGTH !== 0 || UNMAP_HEADER_LENGTH + descriptorBytes > n) {
    throw new ScsiDataError('SCSI_DATA_INVALID', `UNMAP block descriptor data length ${descriptorBytes} does not fit ${n} bytes`);
  }
  const out: UnmapDescriptor[] = [];
  for (let at = UNMAP_HEADER_LENGTH; at < UNMAP_HEADER_LENGTH + descriptorBytes; at += UNMAP_DESCRIPTOR_LENGTH) {
    out.push({ lba: v.getBigUint64(at), blocks: v.getUint32(at + 8) });
  }
  return out;
}
