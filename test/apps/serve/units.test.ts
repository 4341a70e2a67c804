/** The small pieces of usbms serve: its messages byte for byte, the PSK file, addresses, errno mapping. */
import { describe, expect, it } from 'vitest';
import { dataChunkHeader, decodeRequest, errorChunk, infoBlockSize, infoExport, optionReply, simpleReply } from '../../../src/apps/serve/wire.js';
import { failureOf, isLoopback, NBD_ERRNO, parsePskFile, ServeError } from '../../../src/apps/serve/index.js';
import { parseListen } from '../../../src/apps/cli/commands/serve.js';
import { DiskError, DiskGoneError, DiskMediumError, DiskRangeError, decodeDiskSense, UsbmsArgumentError } from '../../../src/index.js';

const cookie = Buffer.from('0102030405060708', 'hex');

describe('wire', () => {
  it('option replies, INFO payloads and reply headers as proto.md lays them out', () => {
    expect(optionReply(7, 1).toString('hex')).toBe('0003e889045565a9' + '00000007' + '00000001' + '00000000');
    expect(infoExport(0x1000n, 0x14d).toString('hex')).toBe('0000' + '0000000000001000' + '014d');
    expect(infoBlockSize(512, 65536, 122880).toString('hex')).toBe('0003' + '00000200' + '00010000' + '0001e000');
    expect(simpleReply(5, cookie).toString('hex')).toBe('67446698' + '00000005' + '0102030405060708');
    expect(dataChunkHeader(1, cookie, 4096, 512).toString('hex'))
      .toBe('668e33ef' + '0001' + '0001' + '0102030405060708' + '00000208' + '0000000000001000');
    expect(errorChunk(1, cookie, 5, 'bad', 1024).toString('hex'))
      .toBe('668e33ef' + '0001' + '8002' + '0102030405060708' + '00000011' + '00000005' + '0003' + '626164' + '0000000000000400');
    expect(errorChunk(1, cookie, 22, '').subarray(4, 8).toString('hex')).toBe('00018001');
  });

  it('request headers: offsets past 2^53 read as Infinity (past the end of any export)', () => {
    const h = Buffer.from('25609513' + '0001' + '0001' + '0102030405060708' + '0000000100000200' + '00001000', 'hex');
    const out = { magic: 0, flags: 0, type: 0, offset: 0, length: 0 };
    const c = Buffer.alloc(8);
    decodeRequest(h, out, c);
    expect(out).toEqual({ magic: 0x25609513, flags: 1, type: 1, offset: 2 ** 32 + 512, length: 4096 });
    expect(c.equals(cookie)).toBe(true);
    h.writeBigUInt64BE(1n << 60n, 16);
    decodeRequest(h, out, c);
    expect(out.offset).toBe(Infinity);
  });
});

describe('configuration', () => {
  it('PSK files in psktool\'s format; anything else is SERVE_TLS with the line', () => {
    const keys = parsePskFile('# keys\nalice:00ff\n\nbob:0102030405060708\n', 'k.psk');
    expect([...keys.keys()]).toEqual(['alice', 'bob']);
    expect(keys.get('alice')!.toString('hex')).toBe('00ff');
    expect(() => parsePskFile('alice:xyz\n', 'k.psk')).toThrow(/k\.psk:1/);
    expect(() => parsePskFile('nokey\n', 'k.psk')).toThrow(ServeError);
    expect(() => parsePskFile('\n', 'k.psk')).toThrow(/no "identity:hexkey"/);
  });

  it('--listen forms and what counts as loopback', () => {
    expect(parseListen('10809')).toEqual({ host: '127.0.0.1', port: 10809 });
    expect(parseListen('0.0.0.0:10809')).toEqual({ host: '0.0.0.0', port: 10809 });
    expect(parseListen('[::1]:99')).toEqual({ host: '::1', port: 99 });
    expect(() => parseListen('host:')).toThrow();
    expect(() => parseListen('70000')).toThrow();
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.org', '128.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('errno of a failed command', () => {
  const sense = (hex: string) => decodeDiskSense(Buffer.from(hex, 'hex'));
  it('medium EIO with the block; write protect EPERM; thin out of space ENOSPC; range EINVAL/ENOSPC; gone EIO', () => {
    const medium = new DiskMediumError('READ(10) at LBA 8', { sense: sense('f00003000000640a00000000110000000000'), lba: 8n });
    expect(failureOf(medium, false)).toMatchObject({ errno: NBD_ERRNO.EIO, lba: 100n });
    expect(failureOf(medium, false).message).toMatch(/Medium Error; Additional sense: Unrecovered read error/);
    const wp = new DiskError('data-protect', 'WRITE(10)', { sense: sense('700007000000000a00000000270000000000') });
    expect(failureOf(wp, true).errno).toBe(NBD_ERRNO.EPERM);
    const thin = new DiskError('data-protect', 'WRITE(10)', { sense: sense('700007000000000a00000000270700000000') });
    expect(failureOf(thin, true).errno).toBe(NBD_ERRNO.ENOSPC);
    expect(failureOf(new DiskRangeError('x', 5n), false).errno).toBe(NBD_ERRNO.EINVAL);
    expect(failureOf(new DiskRangeError('x', 5n), true).errno).toBe(NBD_ERRNO.ENOSPC);
    expect(failureOf(new DiskGoneError(), false).errno).toBe(NBD_ERRNO.EIO);
    expect(failureOf(new UsbmsArgumentError('x'), false).errno).toBe(NBD_ERRNO.EINVAL);
    expect(failureOf(new Error('x'), false).errno).toBe(NBD_ERRNO.EIO);
  });
});
