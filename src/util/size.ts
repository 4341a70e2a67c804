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

/** The most one command may move: the HBA's DMA window (dma_attr_maxxfer) and usbfs's 16 MB of in-flight memory. */
export const MAX_TRANSFER_LIMIT = 16 * 1024 * 1024;
