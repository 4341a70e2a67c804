/**
 * Logging through `debug`, one namespace per layer: usbms:usb, usbms:bot, usbms:hba, usbms:scsi, usbms:disk,
 * usbms:uas, usbms:cli, usbms:mock, usbms:rescue, usbms:serve. Enable with DEBUG=usbms:* (output goes to stderr), or with `debug.enable()` in a program.
 *
 * `debug` itself (and the tty and util modules it pulls in: 7 ms of a CLI run's 140) is loaded only when a logger
 * is used while logging may be on: DEBUG is set, or the program has loaded `debug` itself (and so may enable it).
 */
import { createRequire } from 'node:module';
import type { Debugger } from 'debug';

export type Layer = 'usb' | 'libusb' | 'bot' | 'uas' | 'quirks' | 'hba' | 'dma' | 'scsi' | 'disk' | 'cli' | 'mock' | 'rescue' | 'serve';

/** A layer's logger: call it like `debug`'s (`log('%s', x)`); `enabled` says whether its namespace is on. */
export interface Logger {
  (formatter: unknown, ...args: unknown[]): void;
  readonly enabled: boolean;
  readonly namespace: string;
}

type CreateDebug = (namespace: string) => Debugger;
const load = createRequire(import.meta.url);
let createDebug: CreateDebug | undefined;

/** Where `debug` resolves from here, looked up once (null: not installed); undefined until the first look. */
let debugPath: string | null | undefined;

/** The program has loaded `debug` itself. A property lookup: resolving 'debug' on every call was a module
 * resolution (package.json reads, path joins) per log call, a quarter of the software disk's CPU per command. */
function debugLoaded(): boolean {
  if (debugPath === undefined) {
    try { debugPath = load.resolve('debug'); } catch { debugPath = null; }
  }
  return debugPath !== null && load.cache[debugPath] !== undefined;
}

function debugIfWanted(): CreateDebug | undefined {
  if (createDebug !== undefined) return createDebug;
  if ((process.env.DEBUG ?? '') !== '' || debugLoaded()) createDebug = load('debug') as CreateDebug;
  return createDebug;
}

export function logger(layer: Layer, sub?: string): Logger {
  const namespace = sub === undefined ? `usbms:${layer}` : `usbms:${layer}:${sub}`;
  let real: Debugger | undefined;
  const get = (): Debugger | undefined => (real ??= debugIfWanted()?.(namespace));
  const log = (formatter: unknown, ...args: unknown[]): void => {
    const d = get();
    if (d?.enabled === true) d(formatter, ...args);
  };
  Object.defineProperty(log, 'enabled', { get: () => get()?.enabled === true });
  Object.defineProperty(log, 'namespace', { value: namespace });
  return log as Logger;
}
