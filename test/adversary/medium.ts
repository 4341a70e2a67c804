/**
 * The adversary's medium: memory blocks whose every version is identifiable. Each block written by the
 * schedule holds a stamp (magic, LUN, LBA, write id) followed by bytes derived from them, so any 512 bytes
 * can be told apart: the initial content (write id 0), a given host write, or garbage. The medium keeps, per
 * block, the sequence of write ids it held, with the device clock at which each landed: that history is the
 * oracle's ground truth for what a READ may legitimately have returned.
 */
export const BLOCK = 512;
const MAGIC = 0x42564441; // "ADVB"
/** Content that is no stamped block at all (garbage, a torn write, a block from elsewhere). */
export const NOT_A_STAMP = -1;

/** Fill `into` (one block) with the stamp of write `id` at (lun, lba). */
export function stampBlock(into: Buffer, lun: number, lba: number, id: number): void {
  into.writeUInt32LE(MAGIC, 0);
  into.writeUInt32LE(lun, 4);
  into.writeUInt32LE(lba >>> 0, 8);
  into.writeUInt32LE(id >>> 0, 12);
  // xorshift32 keyed by the stamp: cheap, and no two stamps share a body
  let x = (Math.imul(lba + 1, 0x9e3779b1) ^ Math.imul(id + 7, 0x85ebca6b) ^ Math.imul(lun + 3, 0xc2b2ae35)) >>> 0 || 1;
  for (let i = 16; i + 4 <= into.length; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    into.writeUInt32LE(x >>> 0, i);
  }
}

export function stampedBlocks(lun: number, lba: number, blocks: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(blocks * BLOCK);
  for (let i = 0; i < blocks; i++) stampBlock(b.subarray(i * BLOCK, (i + 1) * BLOCK), lun, lba + i, id);
  return b;
}

const scratch = Buffer.alloc(BLOCK);

/** The write id a block holds, when it is exactly the stamp of (lun, lba); NOT_A_STAMP otherwise. */
export function identify(block: Buffer, lun: number, lba: number): number {
  if (block.length !== BLOCK || block.readUInt32LE(0) !== MAGIC) return NOT_A_STAMP;
  if (block.readUInt32LE(4) !== lun || block.readUInt32LE(8) !== lba >>> 0) return NOT_A_STAMP;
  const id = block.readUInt32LE(12);
  stampBlock(scratch, lun, lba, id);
  return scratch.equals(block) ? id : NOT_A_STAMP;
}

/** What the stamp in a block claims, without checking the body (to describe a stray write). */
export function claimedStamp(block: Buffer): { lun: number; lba: number; id: number } | undefined {
  if (block.length < 16 || block.readUInt32LE(0) !== MAGIC) return undefined;
  return { lun: block.readUInt32LE(4), lba: block.readUInt32LE(8), id: block.readUInt32LE(12) };
}

export class Medium {
  readonly data: Buffer;
  /** Per block: [clock, id, clock, id, ...] in the order they landed; starts with (0, 0). */
  readonly history: number[][];

  constructor(readonly lun: number, readonly blocks: number) {
    this.data = stampedBlocks(lun, 0, blocks, 0);
    this.history = Array.from({ length: blocks }, () => [0, 0]);
  }

  block(lba: number): Buffer { return this.data.subarray(lba * BLOCK, (lba + 1) * BLOCK); }

  /** Store one block at device clock `clock`; returns the id it holds now. */
  write(lba: number, src: Buffer, clock: number): number {
    src.copy(this.data, lba * BLOCK, 0, BLOCK);
    const id = identify(this.block(lba), this.lun, lba);
    this.history[lba]!.push(clock, id);
    return id;
  }

  /** Ids the block held at any time in [from, to] of the device clock. */
  idsDuring(lba: number, from: number, to: number): Set<number> {
    const h = this.history[lba]!;
    const out = new Set<number>();
    let atStart = h[1]!;
    for (let i = 0; i < h.length; i += 2) {
      const t = h[i]!;
      if (t <= from) atStart = h[i + 1]!;
      else if (t <= to) out.add(h[i + 1]!);
    }
    out.add(atStart);
    return out;
  }

  current(lba: number): number { const h = this.history[lba]!; return h[h.length - 1]!; }
}
