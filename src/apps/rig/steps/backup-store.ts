/**
 * Where a device's original data waits while a destructive plan runs: in memory when it is small and nothing
 * must survive the process, else in a file (`DIR/<port>_<vid-pid>_<serial>.backup.img`; with --journal, always a
 * file, so that a resumed run can still put it back).
 */
import { open as openFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Disk } from '../../../disk/index.js';
import { keyFileName, type DeviceKey } from '../device.js';
import type { DeviceJournal } from '../journal.js';
import { UsbmsInternalError } from '../../../util/errors.js';

/** Up to this much is kept in memory (when no journal asks for a file). */
export const MEMORY_BACKUP_LIMIT = 64 * 1024 * 1024;

export class BackupStore {
  private memory: Buffer | undefined;
  private file: { path: string; bytes: number } | undefined;

  constructor(private readonly key: DeviceKey, private readonly dir: string | undefined,
    private readonly journal: DeviceJournal | undefined) {
    const b = journal?.data.backup;
    if (b !== null && b !== undefined) this.file = b;
  }

  get saved(): boolean { return this.memory !== undefined || this.file !== undefined; }
  get where(): string { return this.file?.path ?? (this.memory === undefined ? 'nowhere' : 'memory'); }

  /** Read the whole device into the store. */
  async save(d: Disk, chunkBlocks: number): Promise<{ bytes: number; seconds: number; where: string }> {
    const bytes = Number(d.capacityBytes);
    const t0 = Date.now();
    const buf = Buffer.alloc(chunkBlocks * d.blockSize);
    if (bytes <= MEMORY_BACKUP_LIMIT && this.journal === undefined && this.dir === undefined) {
      const all = Buffer.alloc(bytes);
      await this.walk(d, chunkBlocks, async (lba, n, off) => {
        await d.read(lba, n, all.subarray(off, off + n * d.blockSize));
      });
      this.memory = all;
    } else {
      const path = join(this.dir ?? tmpdir(), `${keyFileName(this.key)}.backup.img`);
      const fh = await openFile(path, 'w');
      try {
        await this.walk(d, chunkBlocks, async (lba, n, off) => {
          const view = await d.read(lba, n, buf);
          await fh.write(view, 0, view.length, off);
        });
      } finally { await fh.close(); }
      this.file = { path, bytes };
      if (this.journal !== undefined) { this.journal.data.backup = this.file; this.journal.save(); }
    }
    return { bytes, seconds: (Date.now() - t0) / 1000, where: this.where };
  }

  /** Write the saved data back and read it again to check; resolves with the blocks that differ. */
  async restore(d: Disk, chunkBlocks: number): Promise<{ bytes: number; seconds: number; mismatched: number }> {
    if (!this.saved) throw new UsbmsInternalError('restore before anything was saved');
    const t0 = Date.now();
    const buf = Buffer.alloc(chunkBlocks * d.blockSize);
    const check = Buffer.alloc(chunkBlocks * d.blockSize);
    const fh = this.file === undefined ? undefined : await openFile(this.file.path, 'r');
    let mismatched = 0;
    const source = async (off: number, len: number): Promise<Buffer> => {
      if (this.memory !== undefined) return this.memory.subarray(off, off + len);
      await fh?.read(buf, 0, len, off);
      return buf.subarray(0, len);
    };
    try {
      await this.walk(d, chunkBlocks, async (lba, n, off) => { await d.write(lba, await source(off, n * d.blockSize)); });
      await d.synchronizeCache();
      await this.walk(d, chunkBlocks, async (lba, n, off) => {
        const got = await d.read(lba, n, check);
        const want = await source(off, n * d.blockSize);
        for (let i = 0; i < n; i++) {
          const a = got.subarray(i * d.blockSize, (i + 1) * d.blockSize);
          if (!a.equals(want.subarray(i * d.blockSize, (i + 1) * d.blockSize))) mismatched += 1;
        }
      });
    } finally { await fh?.close(); }
    return { bytes: Number(d.capacityBytes), seconds: (Date.now() - t0) / 1000, mismatched };
  }

  /** Drop the saved copy (after a verified restore). */
  async discard(): Promise<void> {
    this.memory = undefined;
    if (this.file !== undefined) await rm(this.file.path, { force: true });
    this.file = undefined;
    if (this.journal !== undefined) { this.journal.data.backup = null; this.journal.save(); }
  }

  private async walk(d: Disk, per: number, fn: (lba: bigint, n: number, byteOffset: number) => Promise<void>): Promise<void> {
    for (let lba = 0n; lba < d.blocks;) {
      const n = Number(d.blocks - lba < BigInt(per) ? d.blocks - lba : BigInt(per));
      await fn(lba, n, Number(lba) * d.blockSize);
      lba += BigInt(n);
    }
  }
}
