/**
 * A classic pcap file (LINKTYPE_USB_LINUX_MMAPPED) written with synchronous writev(2) calls on an fd.
 *
 * Synchronous on purpose: a record is the 80-byte header (pcap record header + usbmon header) and a VIEW of the
 * transfer's own buffer, handed to the kernel before `submit` returns or its promise settles, so the trace needs no
 * copy of the data and cannot see a buffer the caller has already reused. One writev per record; the page cache
 * absorbs them (figures in README "Traces and replay").
 */
import { UsbmsError } from '../../util/errors.js';
import { closeSync, openSync, writevSync } from 'node:fs';
import { encodeUsbmonHeader, LINKTYPE_USB_LINUX_MMAPPED, USBMON_HEADER_LENGTH, type UsbmonHeaderFields } from './usbmon.js';
import { logger } from '../../util/log.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

const log = logger('usb', 'trace');

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_RECORD_HEADER = 16;
/** The snaplen written into the file header when none is set (libpcap's default for usbmon). */
const DEFAULT_FILE_SNAPLEN = 0x40000;

export interface PcapWriterOptions {
  /** Keep at most this many data bytes of each transfer (len_cap < length beyond it). */
  snaplen?: number | undefined;
}

const PCAP_WRITER_KEYS = { snaplen: true } as const satisfies KnownKeys<PcapWriterOptions>;

/** A pcap file could not be created or written. */
export class TraceWriteError extends UsbmsError {
  override readonly name = 'TraceWriteError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('TRACE_WRITE', message, options); }
}

export class PcapWriter {
  /** Data bytes kept per record. */
  readonly snaplen: number;
  private fd: number | undefined;
  private readonly header = Buffer.alloc(PCAP_RECORD_HEADER + USBMON_HEADER_LENGTH);
  private failure: Error | undefined;
  records = 0;

  private constructor(fd: number, snaplen: number) {
    this.fd = fd;
    this.snaplen = snaplen;
    const g = Buffer.alloc(24);
    g.writeUInt32LE(PCAP_MAGIC_US, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeUInt32LE(Math.min(DEFAULT_FILE_SNAPLEN, USBMON_HEADER_LENGTH + snaplen), 16);
    g.writeUInt32LE(LINKTYPE_USB_LINUX_MMAPPED, 20);
    this.write([g]);
  }

  /** Create (truncate) `file`. Throws TraceWriteError when it cannot be opened. */
  static open(file: string, opts: PcapWriterOptions = {}): PcapWriter {
    rejectUnknownKeys(opts, PCAP_WRITER_KEYS, 'PcapWriter options');
    const snaplen = opts.snaplen ?? Infinity;
    if (!(snaplen === Infinity || (Number.isSafeInteger(snaplen) && snaplen >= 0))) {
      throw new TraceWriteError(`pcap snaplen ${String(opts.snaplen)} is not a non-negative integer`);
    }
    let fd: number;
    try {
      fd = openSync(file, 'w');
    } catch (e) {
      throw new TraceWriteError(`cannot create pcap file ${file}: ${(e as Error).message}`, { cause: e });
    }
    return new PcapWriter(fd, snaplen === Infinity ? DEFAULT_FILE_SNAPLEN : snaplen);
  }

  /** The first write error, if any (tracing then stops; the device I/O goes on). */
  get error(): Error | undefined { return this.failure; }

  /**
   * Write one record: header fields plus `data` (already cut to the snaplen by the caller: `fields.lenCap`
   * must equal `data.length`). `data` is written from the caller's memory as it is now.
   */
  record(fields: UsbmonHeaderFields, data: Buffer | undefined): void {
    if (this.fd === undefined) return;
    const h = this.header;
    const sec = Math.floor(fields.timeUs / 1e6);
    h.writeUInt32LE(sec, 0);
    h.writeUInt32LE(Math.floor(fields.timeUs - sec * 1e6), 4);
    const captured = USBMON_HEADER_LENGTH + fields.lenCap;
    h.writeUInt32LE(captured, 8);
    h.writeUInt32LE(USBMON_HEADER_LENGTH + (fields.hasData ? fields.length : 0), 12);
    encodeUsbmonHeader(h, PCAP_RECORD_HEADER, fields);
    this.write(data === undefined || data.length === 0 ? [h] : [h, data]);
    this.records += 1;
  }

  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  private write(parts: Buffer[]): void {
    if (this.fd === undefined) return;
    try {
      const want = parts.reduce((n, p) => n + p.length, 0);
      let done = writevSync(this.fd, parts);
      // A short write (a full disk, a signal) leaves the rest to write; finish it part by part.
      while (done < want) {
        let skip = done;
        const rest: Buffer[] = [];
        for (const p of parts) {
          if (skip >= p.length) { skip -= p.length; continue; }
          rest.push(p.subarray(skip));
          skip = 0;
        }
        const n = writevSync(this.fd, rest);
        if (n === 0) throw new TraceWriteError('no progress writing the pcap file');
        done += n;
      }
    } catch (e) {
      this.failure = e as Error;
      log('pcap write failed, tracing stops: %s', (e as Error).message);
      const fd = this.fd;
      this.fd = undefined;
      try { closeSync(fd); } catch { /* already failing */ }
    }
  }
}
