/**
 * Man-page details of the SCSA entry points that the broader HBA tests do not pin down: when the packet
 * constructor runs and what it sees, tran_setup_pkt's 0/-1, callback queueing as ddi_set_callback does it,
 * scsi_dmaget with a NULL dmatoken, FLAG_NOINTR under scsi_poll, auto request sense before the next command,
 * pkt_resid that believes the device's larger residue, pkt_time against the software disk, and the hot path
 * reusing its transfers.
 */
import { describe, it, expect, vi } from 'vitest';
import {
  UsbmsHba, scsi_init_pkt, scsi_destroy_pkt, scsi_transport, scsi_poll, scsi_dmafree, scsi_dmaget, NULL_FUNC,
  SLEEP_FUNC, TRAN_ACCEPT, TRAN_BADPKT, CMD_CMPLT, CMD_TIMEOUT, STAT_TIMEOUT, STATE_ARQ_DONE, STATUS_CHECK, STATUS_GOOD,
  FLAG_NOINTR, SCSI_POLL_TIMEOUT, DEFAULT_CDBLEN, DEFAULT_SCBLEN, DEFAULT_PRIVLEN, type scsi_pkt,
} from '../../src/scsa/index.js';
import { BotTransport } from '../../src/bot/transport.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import type { UsbPort } from '../../src/usb/port.js';
import { FakeTransport, makeBuf, cdb10, mockHba, tick } from './helpers.js';

describe('tran_pkt_constructor / tran_setup_pkt', () => {
  it('the constructor sees pkt_address, pkt_cdbp, pkt_scbp, pkt_private and the three lengths already set', () => {
    const hba = UsbmsHba.attach(new FakeTransport());
    const seen: unknown[] = [];
    const real = hba.tran.tran_pkt_constructor!;
    hba.tran.tran_pkt_constructor = (pkt, arg, kmflags) => {
      seen.push({
        tran: pkt.pkt_address.a_hba_tran === hba.tran, cdb: pkt.pkt_cdbp.length, scb: pkt.pkt_scbp.length,
        priv: pkt.pkt_private?.length, lens: [pkt.pkt_cdblen, pkt.pkt_scblen, pkt.pkt_tgtlen],
        haPrivateBefore: pkt.pkt_ha_private,
      });
      return real(pkt, arg, kmflags);
    };
    const p = scsi_init_pkt(hba.address(0), null, null, 10, 32, 0, 0, NULL_FUNC)!;
    expect(seen).toEqual([{ tran: true, cdb: DEFAULT_CDBLEN, scb: DEFAULT_SCBLEN, priv: DEFAULT_PRIVLEN,
      lens: [DEFAULT_CDBLEN, DEFAULT_SCBLEN, DEFAULT_PRIVLEN], haPrivateBefore: null }]);
    expect(p.pkt_ha_private).not.toBeNull(); // the constructor's per-packet USB resources
    scsi_destroy_pkt(p);
    scsi_destroy_pkt(scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!);
    expect(seen.length).toBe(1); // a cached object is not constructed again
  });

  it('a constructor that fails (-1) makes scsi_init_pkt return null and gives the packet budget back', () => {
    const hba = UsbmsHba.attach(new FakeTransport(), { maxPackets: 1 });
    hba.tran.tran_pkt_constructor = () => -1;
    expect(scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)).toBeNull();
    expect(hba.tran.tran_resources.packets).toBe(0);
  });

  it('tran_setup_pkt returns 0, or -1 for areas it cannot provide; -1 makes scsi_init_pkt return null', () => {
    const hba = UsbmsHba.attach(new FakeTransport());
    const setup = hba.tran.tran_setup_pkt!;
    const p = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    p.pkt_cdblen = 4096;
    expect(setup(p, NULL_FUNC, null)).toBe(-1);
    p.pkt_cdblen = 12;
    expect(setup(p, NULL_FUNC, null)).toBe(0);
    hba.tran.tran_teardown_pkt!(p);
    scsi_destroy_pkt(p);
    hba.tran.tran_setup_pkt = () => -1;
    expect(scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)).toBeNull();
    expect(hba.tran.tran_pkt_cache_ptr.stats.inUse).toBe(0);
  });
});

describe('resource callbacks', () => {
  it('a callback that retries scsi_init_pkt with itself stays queued once, and stops when it gets its packet', async () => {
    const hba = UsbmsHba.attach(new FakeTransport(), { maxPackets: 1 });
    const ap = hba.address(0);
    const held = scsi_init_pkt(ap, null, null, 6, 32, 0, 0, NULL_FUNC)!;
    let calls = 0;
    let got: scsi_pkt | null = null;
    const retry = (): 0 | 1 => {
      calls++;
      got = scsi_init_pkt(ap, null, null, 6, 32, 0, 0, retry);
      return got === null ? 0 : 1;
    };
    expect(retry()).toBe(0);
    // Resources are freed and taken again at once by someone else: the callback fails each time.
    for (let i = 0; i < 4; i++) {
      scsi_destroy_pkt(held);
      expect(scsi_init_pkt(ap, null, null, 6, 32, 0, 0, NULL_FUNC)).toBe(held);
      await tick();
      expect(hba.tran.tran_resources.waiting).toBe(1);
    }
    expect(calls).toBe(5); // the first try plus one call per release, never doubled
    scsi_destroy_pkt(held);
    await tick();
    expect(got).toBe(held);
    expect(hba.tran.tran_resources.waiting).toBe(0);
  });
});

describe('obsolete scsi_dmaget', () => {
  it('a NULL dmatoken allocates nothing; after scsi_dmafree the packet lives on and can be bound again', async () => {
    const { hba } = await mockHba();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const p = scsi_init_pkt(hba.address(0), null, null, 10, 32, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(p, null, NULL_FUNC)).toBe(p);
    expect([p.pkt_numcookies, hba.tran.tran_resources.dmaBytes]).toEqual([0, 0]);
    const bp = makeBuf(1024, true);
    expect(scsi_dmaget(p, bp, NULL_FUNC)).toBe(p);
    expect(hba.tran.tran_resources.dmaBytes).toBe(1024);
    scsi_dmafree(p);
    expect([p.pkt_numcookies, hba.tran.tran_resources.dmaBytes]).toEqual([0, 0]);
    expect(scsi_dmaget(p, bp, NULL_FUNC)).toBe(p);
    cdb10(0x28, 0, 2).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(0);
    expect(p.pkt_resid).toBe(0);
    scsi_destroy_pkt(p);
    expect(hba.tran.tran_resources.dmaBytes).toBe(0);
    warn.mockRestore();
  });
});

describe('completion', () => {
  it('scsi_poll runs with FLAG_NOINTR: pkt_comp is not called, the caller gets the result', async () => {
    const bot = new FakeTransport();
    const hba = UsbmsHba.attach(bot);
    const p = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    const during: number[] = [];
    bot.auto = () => {
      during.push(p.pkt_flags, p.pkt_time);
      return { status: STATUS_GOOD };
    };
    const comp = vi.fn();
    p.pkt_comp = comp;
    expect(await scsi_poll(p)).toBe(0);
    expect(during).toEqual([FLAG_NOINTR, SCSI_POLL_TIMEOUT]);
    expect(comp).not.toHaveBeenCalled();
    // Flags and timeout come back as they were (illumos scsi_poll saves and restores them).
    expect([p.pkt_flags, p.pkt_time]).toEqual([0, 0]);
    p.pkt_flags = FLAG_NOINTR;
    // Without scsi_poll nobody would hear of its completion: refused rather than lost.
    expect(scsi_transport(p)).toBe(TRAN_BADPKT);
    expect(comp).not.toHaveBeenCalled();
    p.pkt_flags = 0;
    const done = new Promise<void>((r) => { p.pkt_comp = () => r(); });
    expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
    await done;
  });

  it('auto request sense goes on the wire right after the failed command, before the next queued packet', async () => {
    const bot = new FakeTransport();
    const hba = UsbmsHba.attach(bot);
    const a = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    const b = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    const done: scsi_pkt[] = [];
    a.pkt_comp = b.pkt_comp = (p) => done.push(p);
    b.pkt_cdbp[0] = 0x12;
    scsi_transport(a);
    scsi_transport(b);
    bot.answer({ status: STATUS_CHECK });
    await tick();
    expect(bot.log.map((r) => r.cdb[0])).toEqual([0x00, 0x03]);
    bot.answer();
    await tick();
    expect(done).toEqual([a]);
    expect(a.pkt_scbp[0]).toBe(STATUS_CHECK);
    expect(a.pkt_state & STATE_ARQ_DONE).toBe(STATE_ARQ_DONE);
    bot.answer();
    await tick();
    expect(bot.log.map((r) => r.cdb[0])).toEqual([0x00, 0x03, 0x12]);
    expect(done).toEqual([a, b]);
  });
});

describe('pkt_resid believes a larger device residue', () => {
  it('IN padded by the device: INQUIRY of 36 bytes into 512 reports 476 not transferred', async () => {
    const { hba } = await mockHba({ shortDataPolicy: 'pad' });
    const p = await scsi_init_pkt(hba.address(0), null, makeBuf(512, true), 6, 32, 0, 0, SLEEP_FUNC);
    Buffer.from([0x12, 0, 0, 0, 36, 0]).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(0);
    expect(p.pkt_resid).toBe(512 - 36);
  });

  it('OUT the device accepted but did not process: WRITE(10) of one block with 1024 bytes out', async () => {
    const { hba } = await mockHba({ shortDataPolicy: 'pad' });
    const p = await scsi_init_pkt(hba.address(0), null, makeBuf(1024, false), 10, 32, 0, 0, SLEEP_FUNC);
    cdb10(0x2a, 0, 1).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(0);
    expect(p.pkt_resid).toBe(512);
  });
});

describe('against the software disk', () => {
  it('pkt_time: a device that never answers ends in CMD_TIMEOUT + STAT_TIMEOUT, Reset Recovery, a usable device', async () => {
    const { hba, dev } = await mockHba();
    dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'no-response', phase: 'data' } });
    const p = await scsi_init_pkt(hba.address(0), null, makeBuf(512, true), 10, 32, 0, 0, SLEEP_FUNC);
    cdb10(0x28, 0, 1).copy(p.pkt_cdbp);
    p.pkt_time = 0.1;
    const mark = dev.log.length;
    const t0 = Date.now();
    expect(await scsi_poll(p)).toBe(-1);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(p).toMatchObject({ pkt_reason: CMD_TIMEOUT, pkt_resid: 512 });
    expect(p.pkt_statistics & STAT_TIMEOUT).toBe(STAT_TIMEOUT);
    expect(dev.log.slice(mark).some((e) => e.type === 'mass-storage-reset')).toBe(true);
    expect(p.pkt_time).toBe(0.1);
    expect(await scsi_poll(p)).toBe(0);
    expect(p).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_resid: 0 });
    expect(p.pkt_scbp[0]).toBe(STATUS_GOOD);
  });

  it('the hot path reuses its transfers: no createTransfer after the first command of a cached packet', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 256 }] });
    const raw = dev.open();
    let created = 0;
    const port = new Proxy(raw, {
      get(target, key) {
        if (key === 'createTransfer') return (pipe: 'in' | 'out') => { created++; return target.createTransfer(pipe); };
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as UsbPort;
    const hba = UsbmsHba.attach(await BotTransport.open(port));
    const cycle = async (lba: number): Promise<void> => {
      const bp = makeBuf(4096, true);
      const p = await scsi_init_pkt(hba.address(0), null, bp, 10, 32, 0, 0, SLEEP_FUNC);
      cdb10(0x28, lba, 8).copy(p.pkt_cdbp);
      expect(await scsi_poll(p)).toBe(0);
      scsi_destroy_pkt(p);
    };
    await cycle(0);
    const afterWarmUp = created;
    for (let i = 1; i < 20; i++) await cycle(i * 8 % 248);
    expect(created).toBe(afterWarmUp);
    expect(hba.tran.tran_pkt_cache_ptr.stats.constructed).toBe(1);
  });
});
