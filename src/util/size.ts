import { UsbmsArgumentError } from './errors.js';
/**
 * Byte sizes as people write them: 4096, 4K, 120KiB, 1M, 4MiB (K/M/G and KiB/MiB/GiB are powers of 1024, as dd
 * and sg_dd read them).
 */
export function parseByteSize(text: string): number {
  const m = /^(\d+)\s*(k|kib|m|mib|g|gib)?$/i.exec(text.trim());
  if (m === null || m[1] === undefined) throw new UsbmsArgumentError(`'${text}' is not a size (bytes, or with K/M/G or KiB/MiB/GiB)`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new UsbmsArgumentError(`'${text}' is too large`);
  return n;
}

/**
 * The most one command may move, 16 MiB: all of a command's data is in flight at once (one transfer per DMA
 * cookie), Linux's usbfs allows 16 MB of transfers in flight by default (usbfs_memory_mb), and the HBA's DMA
 * window (dma_attr_maxxfer) is this size.
 */
export const MAX_TRANSFER_LIMIT = 16 * 1024 * 1024;

/** Why `n` bytes cannot be the size of one command ("N is ..."), or undefined when it can. */
export function maxTransferProblem(n: number): string | undefined {
  if (!Number.isSafeInteger(n) || n < 512) return `${n} is not a whole number of bytes from 512 up`;
  if (n > MAX_TRANSFER_LIMIT) {
    return `${n} is larger than the limit, ${MAX_TRANSFER_LIMIT} bytes (16 MiB: a command's data is all in flight ` +
      'at once, and Linux usbfs allows 16 MB in flight by default)';
  }
  if (n % 512 !== 0) return `${n} is not a multiple of 512 (whole sectors)`;
  return undefined;
}
