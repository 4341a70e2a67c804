/**
 * READ / WRITE / VERIFY in their 6, 10, 12 and 16 byte forms (SBC-4 5.x). One parameter shape per family so
 * the disk driver can pick the CDB size from the LBA and length alone.
 */
import { ScsiParamError } from './errors.js';
import { bitsAt, flag, type FieldDef } from './fields.js';
import { countField, defineCommand, lbaField, type CommandSpec, type ControlParam } from './spec.js';

/** READ(6)/WRITE(6): 21-bit LBA, 1..256 blocks (0 on the wire means 256). */
export interface RW6Params extends ControlParam {
  lba: bigint;
  blocks: number;
}

interface ProtectFlags {
  /** DPO: do not keep the blocks in cache. */
  dpo?: boolean;
  /** FUA: force unit access (read from / write through to the medium). */
  fua?: boolean;
  /** GROUP NUMBER (bits 5-0). */
  groupNumber?: number;
}

export interface ReadParams extends ControlParam, ProtectFlags {
  lba: bigint;
  blocks: number;
  /** RDPROTECT (protection information checking), 0..7. */
  rdprotect?: number;
}

export interface WriteParams extends ControlParam, ProtectFlags {
  lba: bigint;
  blocks: number;
  /** WRPROTECT, 0..7. */
  wrprotect?: number;
}

/** The declaration of a block READ or WRITE of any size: what splitting and DMA windows rewrite (`lba`, `blocks`). */
export type BlockCommandSpec = CommandSpec<ReadParams> | CommandSpec<WriteParams>;

export interface VerifyParams extends ControlParam {
  lba: bigint;
  blocks: number;
  /** VRPROTECT, 0..7. */
  vrprotect?: number;
  dpo?: boolean;
  /** BYTCHK: 0 medium only (no data-out), 1 compare against data-out, 3 compare one block against every block. */
  bytchk?: number;
  groupNumber?: number;
}

const rw6 = <P extends RW6Params>(): FieldDef<P>[] => [
  { name: 'lba', at: 1, bytes: 3, bits: 21, kind: 'bigint', always: true },
  { name: 'blocks', at: 4, bytes: 1, zeroMeans: 256, always: true },
];

/** RDPROTECT/WRPROTECT/VRPROTECT (7-5), DPO (4), FUA (3) in byte 1; group number where each size keeps it. */
function rwFields<P extends ReadParams | WriteParams>(protect: keyof P & string, size: 10 | 12 | 16): FieldDef<P>[] {
  const layout = { 10: { lba: 2, lbaBytes: 4, len: 7, lenBytes: 2, group: 6 },
    12: { lba: 2, lbaBytes: 4, len: 6, lenBytes: 4, group: 10 },
    16: { lba: 2, lbaBytes: 8, len: 10, lenBytes: 4, group: 14 } }[size];
  return [
    bitsAt<P>(protect, 1, 5, 3),
    flag<P>('dpo', 1, 4),
    flag<P>('fua', 1, 3),
    lbaField<P>(layout.lba, layout.lbaBytes as 4 | 8),
    countField<P>('blocks', layout.len, layout.lenBytes as 2 | 4),
    bitsAt<P>('groupNumber', layout.group, 0, 6),
  ];
}

const blocksTimes = (p: { blocks: number }, blockSize = 512): number => p.blocks * blockSize;

function rwSpecs<P extends ReadParams | WriteParams>(kind: 'READ' | 'WRITE', protect: keyof P & string,
  ops: readonly [number, number, number]): [CommandSpec<P>, CommandSpec<P>, CommandSpec<P>] {
  const direction = kind === 'READ' ? 'in' : 'out';
  const op = kind === 'READ' ? 'read' : 'write';
  const make = (size: 10 | 12 | 16, opcode: number): CommandSpec<P> => defineCommand<P>({
    name: `${kind}(${size})`, opcode, cdbLength: size, direction, fields: rwFields<P>(protect, size),
    dataLength: blocksTimes,
  });
  return [withBlockPath(make(10, ops[0]), op, 10), make(12, ops[1]), withBlockPath(make(16, ops[2]), op, 16)];
}

/**
 * The (10) and (16) forms encode a plain READ/WRITE (an LBA, a length and FUA into a buffer, nothing else set) with
 * {@link writeBlockCdb}: the same bytes as the field table (test/scsi/rw-fast.test.ts), without walking it on
 * every block command the disk driver sends. Anything else set goes through the table.
 */
function withBlockPath<P extends ReadParams | WriteParams>(spec: CommandSpec<P>, op: 'read' | 'write',
  size: 10 | 16): CommandSpec<P> {
  const viaTable = spec.encodeCdb.bind(spec);
  spec.encodeCdb = (p: P, into?: Buffer): Buffer => {
    if (into === undefined || !plainBlockCommand(p)) return viaTable(p, into);
    writeBlockCdb(into, op, size, p.lba, p.blocks, p.fua === true);
    return into;
  };
  return spec;
}

function plainBlockCommand(p: ReadParams | WriteParams): boolean {
  return p.dpo === undefined && p.groupNumber === undefined && p.control === undefined
    && (p as ReadParams).rdprotect === undefined && (p as WriteParams).wrprotect === undefined;
}

export const read6 = defineCommand<RW6Params>({
  name: 'READ(6)', opcode: 0x08, cdbLength: 6, direction: 'in', fields: rw6<RW6Params>(), dataLength: blocksTimes,
});
export const write6 = defineCommand<RW6Params>({
  name: 'WRITE(6)', opcode: 0x0a, cdbLength: 6, direction: 'out', fields: rw6<RW6Params>(), dataLength: blocksTimes,
});
export const [read10, read12, read16] = rwSpecs<ReadParams>('READ', 'rdprotect', [0x28, 0xa8, 0x88]);
export const [write10, write12, write16] = rwSpecs<WriteParams>('WRITE', 'wrprotect', [0x2a, 0xaa, 0x8a]);

function verifyFields(size: 10 | 16): FieldDef<VerifyParams>[] {
  return [
    bitsAt<VerifyParams>('vrprotect', 1, 5, 3),
    flag<VerifyParams>('dpo', 1, 4),
    bitsAt<VerifyParams>('bytchk', 1, 1, 2),
    lbaField<VerifyParams>(2, size === 10 ? 4 : 8),
    countField<VerifyParams>('blocks', size === 10 ? 7 : 10, size === 10 ? 2 : 4),
    bitsAt<VerifyParams>('groupNumber', size === 10 ? 6 : 14, 0, 6),
  ];
}

/** VERIFY moves data only when BYTCHK asks for a comparison; dataLength 0 means no data phase. */
function verifyDataLength(p: VerifyParams, blockSize = 512): number {
  const bytchk = p.bytchk ?? 0;
  if (bytchk === 0) return 0;
  return bytchk === 3 ? blockSize : p.blocks * blockSize;
}

function checkBytchk(p: VerifyParams): void {
  if (p.bytchk === 2) throw new ScsiParamError('SCSI_PARAM_INVALID', 'BYTCHK 2 is reserved (SBC-4)', 'bytchk');
}

export const verify10 = defineCommand<VerifyParams>({
  name: 'VERIFY(10)', opcode: 0x2f, cdbLength: 10, direction: 'out', fields: verifyFields(10),
  dataLength: verifyDataLength, check: checkBytchk,
});
export const verify16 = defineCommand<VerifyParams>({
  name: 'VERIFY(16)', opcode: 0x8f, cdbLength: 16, direction: 'out', fields: verifyFields(16),
  dataLength: verifyDataLength, check: checkBytchk,
});

/**
 * READ/WRITE(10) or (16) with only an LBA, a length and the FUA bit, written straight into `into` (what sd's
 * FORMG1ADDR / FORMG4LONGADDR macros do): the same bytes as `commands.read10.encodeCdb({ lba, blocks, fua }, into)`
 * and its siblings (test/scsi/rw-fast.test.ts compares them), without walking the field table - the disk driver
 * sends one per block command, and in the lab guest the table walk was a fifth of the driver's time per command.
 */
export function writeBlockCdb(into: Buffer, op: 'read' | 'write', size: 10 | 16, lba: bigint, blocks: number,
  fua = false): void {
  const lbaMax = size === 10 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
  const blocksMax = size === 10 ? 0xffff : 0xffff_ffff;
  if (lba < 0n || lba > lbaMax) throw new ScsiParamError('SCSI_PARAM_RANGE', `lba=${lba} out of range 0..${lbaMax}`, 'lba');
  if (!Number.isInteger(blocks) || blocks < 0 || blocks > blocksMax) {
    throw new ScsiParamError('SCSI_PARAM_RANGE', `blocks=${blocks} out of range 0..${blocksMax}`, 'blocks');
  }
  if (into.length < size) throw new ScsiParamError('SCSI_CDB_LENGTH', `a ${size}-byte CDB needs ${size} bytes, got ${into.length}`);
  into.fill(0, 0, size);
  if (fua) into[1] = 0x08; // FUA: byte 1 bit 3 in both sizes
  if (size === 10) {
    into[0] = op === 'read' ? 0x28 : 0x2a;
    into.writeUInt32BE(Number(lba), 2);
    into.writeUInt16BE(blocks, 7);
  } else {
    into[0] = op === 'read' ? 0x88 : 0x8a;
    into.writeBigUInt64BE(lba, 2);
    into.writeUInt32BE(blocks, 10);
  }
}
