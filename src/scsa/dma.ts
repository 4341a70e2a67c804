/**
 * DMA binding in userspace (ddi_dma_buf_bind_handle(9F), ddi_dma_getwin(9F), ddi_dma_sync(9F)).
 *
 * The "bus address" of a cookie is its offset in the bound buffer and `cookie.buffer` is a view of the
 * caller's memory at that offset, so a bound buffer goes to libusb without a copy. The attributes shape the
 * cookies exactly as a DMA engine's would: no cookie larger than count_max + 1, none crossing a seg + 1
 * boundary, at most sgllen per window, a window at most maxxfer, and every cookie and window that does not end
 * the transfer a multiple of granular (for USB the bulk max packet size: a short packet then can only mean the
 * end of the data phase). A buffer whose start is not aligned to dma_attr_align is bound through a bounce
 * buffer that ddi_dma_sync copies; that is the only copy.
 */
import {
  DDI_DMA_MAPPED, DDI_DMA_NOMAPPING, DDI_DMA_PARTIAL_MAP, DDI_DMA_TOOBIG,
  type ddi_dma_attr_t, type ddi_dma_cookie_t,
} from './types.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { MAX_TRANSFER_LIMIT } from '../util/size.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

// ddi_dma_buf_bind_handle flags (sys/ddidmareq.h)
/** DMA direction flag: memory to device. */
export const DDI_DMA_WRITE = 0x0001;
/** DMA direction flag: device to memory. */
export const DDI_DMA_READ = 0x0002;
/** DMA flag: a partial mapping (one window at a time) is acceptable. */
export const DDI_DMA_PARTIAL = 0x0008;
/** DMA flag: consistent memory, accessed by CPU and device alike. */
export const DDI_DMA_CONSISTENT = 0x0010;
/** DMA flag: streaming memory, synced at the end of the transfer. */
export const DDI_DMA_STREAMING = 0x0040;

// ddi_dma_sync types
/** ddi_dma_sync type: make CPU writes visible to the device. */
export const DDI_DMA_SYNC_FORDEV = 0;
/** ddi_dma_sync type: make device writes visible to the CPU. */
export const DDI_DMA_SYNC_FORCPU = 1;

export const DMA_ATTR_V0 = 0;

/** Cookies per window we are willing to track, whatever sgllen says (a BOT slot has this many segments). */
export const MAX_COOKIES = 1024;

/** The DMA attributes of this HBA: byte addressable, one window of at most `maxTransferBytes`, segments of whole packets. */
export function defaultDmaAttr(maxPacketSize: number, maxTransferBytes: number): ddi_dma_attr_t {
  return {
    dma_attr_version: DMA_ATTR_V0,
    dma_attr_addr_lo: 0,
    dma_attr_addr_hi: 0xffff_ffff,
    // A cookie is one bulk transfer; keep each within what one command may move.
    dma_attr_count_max: maxTransferBytes - 1,
    dma_attr_align: 1,
    dma_attr_burstsizes: maxPacketSize,
    dma_attr_minxfer: 1,
    dma_attr_maxxfer: MAX_TRANSFER_LIMIT,
    dma_attr_seg: 0xffff_ffff,
    dma_attr_sgllen: 256,
    dma_attr_granular: maxPacketSize,
    dma_attr_flags: 0,
  };
}

/** The fields of ddi_dma_attr_t: attributes with any other name are refused (src/util/options.ts). */
export const DMA_ATTR_KEYS = {
  dma_attr_version: true, dma_attr_addr_lo: true, dma_attr_addr_hi: true, dma_attr_count_max: true,
  dma_attr_align: true, dma_attr_burstsizes: true, dma_attr_minxfer: true, dma_attr_maxxfer: true, dma_attr_seg: true,
  dma_attr_sgllen: true, dma_attr_granular: true, dma_attr_flags: true,
} as const satisfies KnownKeys<ddi_dma_attr_t>;

/** Attributes that cannot describe any transfer (or have a field of another name) are a programming error, caught at attach. */
export function validateDmaAttr(a: ddi_dma_attr_t): void {
  rejectUnknownKeys(a, DMA_ATTR_KEYS, 'ddi_dma_attr_t');
  const positive = [a.dma_attr_granular, a.dma_attr_align, a.dma_attr_sgllen, a.dma_attr_maxxfer];
  if (positive.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new UsbmsArgumentError('dma attr: granular, align, sgllen and maxxfer must be positive integers');
  }
  if (!(a.dma_attr_count_max >= 0) || !(a.dma_attr_seg >= 0) || a.dma_attr_addr_hi < a.dma_attr_addr_lo) {
    throw new UsbmsArgumentError('dma attr: count_max, seg and the address range must be non-negative');
  }
}

/** What an unbound handle points at: one empty Buffer for every handle, so an unbind allocates nothing. */
const UNBOUND = Buffer.alloc(0);

/** One DMA handle per packet, reused across binds; its cookie array and cookie objects are reused too. */
export class DmaHandle {
  readonly cookies: ddi_dma_cookie_t[] = [];
  ncookies = 0;
  bound = false;
  /** Total bytes of the transfer and the current window. */
  length = 0;
  winOffset = 0;
  winLength = 0;
  /** DDI_DMA_READ (device to memory) or DDI_DMA_WRITE. */
  flags = 0;
  /** The caller's memory and the memory the device really uses (the same unless bouncing). */
  private source: Buffer = UNBOUND;
  private target: Buffer = UNBOUND;
  private bounce: Buffer | null = null;
  bouncing = false;

  constructor(readonly attr: ddi_dma_attr_t) {}

  /**
   * ddi_dma_buf_bind_handle: DDI_DMA_MAPPED (one window covers it all), DDI_DMA_PARTIAL_MAP (DDI_DMA_PARTIAL
   * given and several windows needed; the first is current), DDI_DMA_TOOBIG, DDI_DMA_NOMAPPING.
   */
  bind(memory: Buffer, length: number, flags: number): number {
    const a = this.attr;
    if (length > a.dma_attr_addr_hi - a.dma_attr_addr_lo + 1 || length > memory.length) return DDI_DMA_NOMAPPING;
    this.source = memory;
    this.bouncing = memory.byteOffset % a.dma_attr_align !== 0;
    if (this.bouncing) {
      if (this.bounce === null || this.bounce.length < length) this.bounce = Buffer.alloc(length);
      this.target = this.bounce;
    } else {
      this.target = memory;
    }
    this.length = length;
    this.flags = flags;
    const first = this.computeWindow(0);
    if (first === 0) return DDI_DMA_NOMAPPING;
    if (first < length && (flags & DDI_DMA_PARTIAL) === 0) return DDI_DMA_TOOBIG;
    this.bound = true;
    return first < length ? DDI_DMA_PARTIAL_MAP : DDI_DMA_MAPPED;
  }

  /** Move to the window after the current one; false when the current one is the last. */
  nextWindow(): boolean {
    const next = this.winOffset + this.winLength;
    if (!this.bound || next >= this.length) return false;
    return this.computeWindow(next) > 0;
  }

  /** Bytes of the transfer after the current window (what PKT_DMA_PARTIAL reports as pkt_resid). */
  get unmapped(): number {
    return this.length - this.winOffset - this.winLength;
  }

  /** ddi_dma_unbind_handle(9F): release the mapping of the bound buffer. */
  unbind(): void {
    this.bound = false;
    this.ncookies = 0;
    this.winLength = 0;
    this.winOffset = 0;
    this.length = 0;
    this.source = this.target = UNBOUND;
  }

  /** ddi_dma_sync over the current window: copies only when bouncing. */
  sync(type: number): void {
    if (!this.bound || !this.bouncing) return;
    const start = this.winOffset;
    const end = start + this.winLength;
    // Only the direction the data really flows needs copying.
    const toDevice = (this.flags & DDI_DMA_WRITE) !== 0;
    if (type === DDI_DMA_SYNC_FORDEV && toDevice) this.source.copy(this.target, start, start, end);
    else if (type === DDI_DMA_SYNC_FORCPU && !toDevice) this.target.copy(this.source, start, start, end);
  }

  /** Lay out the cookies of the window starting at `start`; returns its length (0: attrs cannot map it). */
  private computeWindow(start: number): number {
    const a = this.attr;
    const end = Math.min(this.length, start + a.dma_attr_maxxfer);
    const maxCookies = Math.min(a.dma_attr_sgllen, MAX_COOKIES);
    const granular = a.dma_attr_granular;
    const segSpan = a.dma_attr_seg + 1;
    let off = start;
    let n = 0;
    while (off < end && n < maxCookies) {
      let size = Math.min(end - off, a.dma_attr_count_max + 1);
      size = Math.min(size, segSpan - (off % segSpan));
      // Only the piece that ends the whole transfer may be a partial packet.
      if (off + size < this.length) size -= size % granular;
      if (size <= 0) break;
      this.setCookie(n, off, size);
      n++;
      off += size;
    }
    const winLength = off - start;
    if (winLength === 0) return 0;
    this.ncookies = n;
    this.winOffset = start;
    this.winLength = winLength;
    return winLength;
  }

  private setCookie(i: number, offset: number, size: number): void {
    const view = this.viewOf(this.cookies[i], offset, size);
    const c = this.cookies[i];
    if (c === undefined) {
      this.cookies.push({ dmac_laddress: offset, dmac_size: size, dmac_type: 0, buffer: view });
    } else {
      c.dmac_laddress = offset;
      c.dmac_size = size;
      c.buffer = view;
    }
  }

  /**
   * The cookie's memory, without a new Buffer where possible: the whole target when the cookie covers it (the
   * common case, one cookie per command), or the view the cookie already holds when it describes the same bytes
   * (the same buffer bound again, as a stream or a benchmark does).
   */
  private viewOf(c: ddi_dma_cookie_t | undefined, offset: number, size: number): Buffer {
    const t = this.target;
    if (offset === 0 && size === t.length) return t;
    const b = c?.buffer;
    if (b !== undefined && b.buffer === t.buffer && b.byteOffset === t.byteOffset + offset && b.length === size) return b;
    return t.subarray(offset, offset + size);
  }
}
