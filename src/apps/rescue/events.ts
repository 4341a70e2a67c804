/**
 * What a rescue reports while it runs (one NDJSON line each with --json) and the summary it ends with.
 * Byte counts are BigInt; in JSON numbers while exact, decimal strings beyond 2^53.
 */
import type { AreaStatus } from './map.js';

export type RescuePhase = 'copy' | 'trim' | 'scrape' | 'retry' | 'finished';
export type Direction = 'forward' | 'reverse';

/** Ladder rungs, in the order they are tried. */
export type EscalationStep = 'bot-reset' | 'port-reset' | 'power-cycle' | 'wait-reconnect';

export interface EscalationRecord {
  readonly step: EscalationStep;
  readonly ok: boolean;
  /** Why the ladder was climbed (the failure of the read), then what the rung did. */
  readonly reason: string;
  readonly detail: string;
  /** Byte position of the read that failed. */
  readonly pos: bigint;
  readonly ms: number;
}

export interface RescueCounts {
  readonly size: bigint;
  readonly rescued: bigint;
  readonly nonTried: bigint;
  readonly nonTrimmed: bigint;
  readonly nonScraped: bigint;
  readonly badSectors: bigint;
  readonly badAreas: number;
  /** Failed reads so far (this run). */
  readonly readErrors: number;
}

/** 'nothing-left': the mapfile was already finished (nothing to read, or only bad sectors and no retries asked). */
export type RescueResult = 'finished' | 'nothing-left' | 'interrupted' | 'device-lost' | 'too-many-bad-areas';

export type RescueEvent =
  | { type: 'start'; device: string; size: bigint; blockSize: number; copyBytes: number; resumed: boolean;
      phase: RescuePhase; pass: number; pos: bigint }
  | { type: 'phase'; phase: RescuePhase; pass: number; direction: Direction }
  | ({ type: 'progress'; phase: RescuePhase; pass: number; pos: bigint; bytesPerSecond: number; elapsedS: number }
      & RescueCounts)
  | { type: 'read-error'; pos: bigint; size: bigint; status: AreaStatus; failure: string; message: string }
  | ({ type: 'escalation' } & EscalationRecord)
  | ({ type: 'summary'; result: RescueResult; message: string; elapsedS: number; bytesPerSecond: number;
      escalations: EscalationRecord[]; mapfile: string; image: string } & RescueCounts);
