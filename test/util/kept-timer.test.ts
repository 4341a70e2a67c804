/** KeptTimer: one Timeout re-armed per use; the owner's callback runs once per expiry, never after dispose. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeptTimer } from '../../src/util/kept-timer.js';

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('KeptTimer', () => {
  it('re-arming before expiry restarts the wait; it fires once, and can be armed again after firing', () => {
    let fired = 0;
    const t = new KeptTimer(() => { fired++; });
    t.arm(40);
    vi.advanceTimersByTime(25);
    t.arm(40); // refresh: the 40 ms start again from now
    vi.advanceTimersByTime(25);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(15);
    expect(fired).toBe(1);
    t.arm(10); // another duration: a new Timeout
    vi.advanceTimersByTime(10);
    expect(fired).toBe(2);
    t.arm(10); // after firing, the kept Timeout is reactivated
    vi.advanceTimersByTime(10);
    expect(fired).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
    t.dispose();
  });

  it('disarm leaves the firing to the owner to ignore; dispose cancels it', () => {
    let fired = 0;
    const t = new KeptTimer(() => { fired++; });
    t.arm(10);
    t.disarm();
    vi.advanceTimersByTime(10);
    expect(fired).toBe(1);
    t.arm(10);
    t.dispose();
    vi.advanceTimersByTime(50);
    expect(fired).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
