/**
 * A port that lets a test rewrite what the device answers for one opcode: the data-in bytes (and how many
 * arrived) and the CSW's residue and status. It wraps any UsbPort and parses only the CBW's opcode and the CSW's
 * fields, so the device underneath stays honest and the test says exactly which lie it tells.
 */
import type { Pipe, UsbPort, UsbTransfer } from '../../src/usb/port.js';

export interface Tamper {
  /** Opcode (CBWCB byte 0) of the commands to tamper with. */
  readonly opcode: number;
  /** How many of them to tamper with (default: all). */
  times?: number;
  /** Replace the data-in: write into `buf`, return how many bytes "arrived". */
  data?(buf: Buffer, actual: number): number;
  /** Rewrite the CSW (13 bytes: residue at 8, status at 12) of the same command. */
  csw?(csw: Buffer, expected: number): void;
}

export function tamperPort(port: UsbPort, tamper: Tamper): UsbPort & { tampered: number } {
  let current: { expected: number; dataDone: boolean } | null = null;
  let tampered = 0;
  const wrap = (pipe: Pipe, t: UsbTransfer): UsbTransfer => ({
    get pipe() { return t.pipe; },
    get inFlight() { return t.inFlight; },
    cancel: () => t.cancel(),
    async submit(buffer: Buffer, timeoutMs: number): Promise<number> {
      if (pipe === 'out' && buffer.length === 31 && buffer.readUInt32LE(0) === 0x43425355) {
        const hit = buffer[15] === tamper.opcode && (tamper.times === undefined || tampered < tamper.times);
        current = hit ? { expected: buffer.readUInt32LE(8), dataDone: buffer.readUInt32LE(8) === 0 } : null;
        if (hit) tampered++;
        return t.submit(buffer, timeoutMs);
      }
      const n = await t.submit(buffer, timeoutMs);
      if (pipe !== 'in' || current === null) return n;
      if (n === 13 && buffer.readUInt32LE(0) === 0x53425355) {
        tamper.csw?.(buffer.subarray(0, 13), current.expected);
        current = null;
        return n;
      }
      if (!current.dataDone) {
        current.dataDone = true;
        return tamper.data === undefined ? n : tamper.data(buffer, n);
      }
      return n;
    },
  });
  return new Proxy(port, {
    get(target, key) {
      if (key === 'tampered') return tampered;
      if (key === 'createTransfer') return (pipe: Pipe) => wrap(pipe, target.createTransfer(pipe));
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as UsbPort & { tampered: number };
}

/** Fixed-format sense, 18 bytes: response code 0x70 (current), key, ASC/ASCQ, additional length 10. */
export function fixedSense(key: number, asc: number, ascq: number, opts: { code?: number; info?: number; ili?: boolean } = {}): Buffer {
  const b = Buffer.alloc(18);
  b[0] = opts.code ?? 0x70;
  b[2] = key | (opts.ili === true ? 0x20 : 0);
  b[7] = 10;
  b[12] = asc;
  b[13] = ascq;
  if (opts.info !== undefined) {
    b[0] = (b[0] ?? 0) | 0x80;
    b.writeUInt32BE(opts.info, 3);
  }
  return b;
}
