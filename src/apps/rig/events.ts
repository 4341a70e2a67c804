/**
 * What a validation run tells the world, one event at a time: NDJSON lines with --json, a live table or plain
 * lines otherwise, and (at the end) JUnit XML. Every event names its time, its device (port path, VID:PID,
 * serial, and for a device attached through USB/IP the remote host and bus id) and its step (null for events about
 * the device as a whole).
 */
import type { UsbipName } from '../../api.js';
import type { DeviceKey } from './device.js';
import type { Figures } from './steps/context.js';
import type { StepStatus } from './verdict.js';
import { hex4 } from '../../util/hex.js';

/** How an event names its device. */
export interface DeviceRef {
  readonly port: string;
  readonly vidPid: string;
  readonly serial: string | null;
  /** Attached through USB/IP: the remote host and its bus id there (null for a local device). */
  readonly usbip: UsbipName | null;
}

export const deviceRef = (k: DeviceKey): DeviceRef =>
  ({ port: k.port, vidPid: `${hex4(k.vendorId)}:${hex4(k.productId)}`, serial: k.serial ?? null,
    usbip: k.usbip === undefined ? null : { host: k.usbip.host, busid: k.usbip.busid } });

interface Base { readonly time: string; readonly device: DeviceRef; readonly step: string | null }

/** One event of a run: one NDJSON line with `--json` (README "Validation rigs" shows them). */
export type RigEvent =
  /** The plan starts on this device (`resumed`: from a journal). */
  | Base & { readonly event: 'start'; readonly plan: string; readonly seed: number; readonly resumed: boolean }
  | Base & { readonly event: 'step-start'; readonly kind: string }
  /** A step's result. */
  | Base & {
    readonly event: 'step'; readonly kind: string; readonly status: StepStatus; readonly figures: Figures;
    readonly reason: string | null; readonly exitCode: number; readonly seconds: number; readonly resumed: boolean;
  }
  /** Figures while a long step runs (an endurance cycle written or verified). */
  | Base & { readonly event: 'progress'; readonly figures: Figures }
  /** The device left the bus; its slot is watched. */
  | Base & { readonly event: 'vanished'; readonly reason: string }
  /** The same device (port and identity) is back, or did not come back in time. */
  | Base & { readonly event: 'returned' | 'lost'; readonly reason: string | null }
  /** The device's verdict. */
  | Base & { readonly event: 'done'; readonly status: StepStatus; readonly exitCode: number; readonly reason: string | null };

export type RigEventKind = RigEvent['event'];

/** Distributive Omit, so each event variant keeps its own fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RigEventBody = DistributiveOmit<RigEvent, 'time' | 'device'>;

/** Where a run sends its events, as they happen ({@link RunOptions}.onEvent). */
export type EventSink = (e: RigEvent) => void;
