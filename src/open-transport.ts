/**
 * Which wire protocol a session runs, and opening it: Bulk-Only (src/bot) or UAS (src/uas).
 *
 * The rule (docs/uas.md): an interface that offers both runs UAS at high speed and below, and Bulk-Only at
 * SuperSpeed, where UAS needs bulk streams that node-usb 2 does not have; `--transport bot|uas` or the IGNORE_UAS
 * quirk (Linux's letter `u`) say otherwise. A device that offers only UAS is refused at SuperSpeed with an error
 * that says why. Part of the composition root: open.ts calls it, `usbms list` shows its choice.
 */
import { BotTransport, type BotOptions } from './bot/index.js';
import { parseQuirkOverrides, resolveQuirks, type Quirks } from './quirks/index.js';
import type { DeviceListing } from './usb/backend.js';
import type { TransportProtocol } from './transport/index.js';
import { openUasTransport, uasAltSetting, UasError, uasSpeedProblem, type UasOptions, type UasTransport } from './uas/index.js';
import { UsbError } from './usb/errors.js';
import type { UsbPort, UsbSpeed } from './usb/port.js';
import { UsbmsArgumentError } from './util/errors.js';
import { logger } from './util/log.js';

const log = logger('cli', 'transport');

/** What the user asked for: `--transport`, default 'auto'. */
export type TransportRequest = TransportProtocol | 'auto';

/** What an interface offers and how it is attached. */
export interface TransportOffer {
  readonly bot: boolean;
  readonly uas: boolean;
  readonly speed: UsbSpeed;
}

/** The protocol a session would run, and why (for logs and `usbms list`). */
export interface TransportDecision {
  readonly protocol: TransportProtocol;
  readonly why: string;
}

/** `--transport` text, checked. */
export function parseTransportRequest(text: string | undefined): TransportRequest {
  if (text === undefined || text === 'auto') return 'auto';
  if (text === 'bot' || text === 'uas') return text;
  throw new UsbmsArgumentError(`--transport ${text}: say bot, uas or auto`, { argument: 'transport' });
}

/**
 * The protocol to run (see the module comment).
 * @throws UasError 'unsupported' when only UAS is possible and cannot run (SuperSpeed) or UAS was asked of a
 *   device without it; UsbError NOT_SUPPORTED when Bulk-Only was asked of (or forced by IGNORE_UAS on) a device
 *   without a Bulk-Only setting.
 */
export function chooseTransport(offer: TransportOffer, request: TransportRequest, ignoreUas: boolean): TransportDecision {
  const noStreams = uasSpeedProblem(offer.speed);
  if (request === 'bot' || (request === 'auto' && ignoreUas)) {
    const why = request === 'bot' ? '--transport bot' : 'the IGNORE_UAS quirk';
    if (!offer.bot) {
      throw new UsbError('NOT_SUPPORTED', `${why} asks for Bulk-Only, but the device offers no Bulk-Only alternate ` +
        'setting (UAS only)');
    }
    return { protocol: 'bot', why };
  }
  if (request === 'uas') {
    if (!offer.uas) throw new UasError('unsupported', 'open', '--transport uas: the device offers no UAS alternate setting');
    if (noStreams !== undefined) throw new UasError('unsupported', 'open', `--transport uas at ${offer.speed} speed: ${noStreams}`);
    return { protocol: 'uas', why: '--transport uas' };
  }
  if (offer.uas && noStreams === undefined) {
    return { protocol: 'uas', why: offer.bot ? `UAS preferred at ${offer.speed} speed` : 'UAS only' };
  }
  if (offer.bot) {
    return { protocol: 'bot', why: offer.uas ? `Bulk-Only at ${offer.speed} speed (UAS there needs bulk streams)` : 'Bulk-Only only' };
  }
  if (offer.uas && noStreams !== undefined) {
    throw new UasError('unsupported', 'open', `the device offers only UAS, and at ${offer.speed} speed ${noStreams}; ` +
      'attach it behind a USB 2 port or hub (high speed), where UAS runs without streams');
  }
  throw new UsbError('NOT_SUPPORTED', 'the device offers neither Bulk-Only nor UAS');
}

/** What a port's interface offers. */
export function offerOf(port: UsbPort): TransportOffer {
  const alts = port.altSettings;
  if (alts === undefined || alts.length === 0) {
    // A port that cannot tell (a replay, a wrapper): it speaks what its current binding is.
    const uas = port.info.endpoints.status !== undefined;
    return { bot: !uas, uas, speed: port.info.speed };
  }
  return { bot: alts.some((a) => a.interfaceProtocol === 0x50), uas: uasAltSetting(port) !== undefined, speed: port.info.speed };
}

/** Options of openTransport. */
export interface OpenTransportOptions {
  request?: TransportRequest | undefined;
  bot?: BotOptions | undefined;
  uas?: UasOptions | undefined;
}

/** An open transport, and the device's quirks (the disk layer reads FIX_CAPACITY and friends from them). */
export interface OpenedTransport {
  readonly transport: BotTransport | UasTransport;
  readonly quirks: Quirks;
  readonly decision: TransportDecision;
}

/** Choose and open the transport on `port` (its interface claimed). */
export async function openTransport(port: UsbPort, opts: OpenTransportOptions = {}): Promise<OpenedTransport> {
  const info = port.info;
  const bot = opts.bot ?? {};
  const quirks = bot.quirks ?? resolveQuirks({ vendorId: info.vendorId, productId: info.productId,
    bcdDevice: bot.bcdDevice, speed: info.speed }, bot.quirkOverrides ?? []);
  const decision = chooseTransport(offerOf(port), opts.request ?? 'auto', quirks.ignoreUas);
  log('transport %s: %s', decision.protocol, decision.why);
  if (decision.protocol === 'uas') {
    const uasOpts: UasOptions = { ...opts.uas };
    if (uasOpts.maxTransferBytes === undefined && quirks.maxTransferBytes !== undefined) uasOpts.maxTransferBytes = quirks.maxTransferBytes;
    return { transport: await openUasTransport(port, uasOpts), quirks, decision };
  }
  return { transport: await BotTransport.open(port, { ...bot, quirks }), quirks, decision };
}

/** What `usbms list` shows of a listed interface: the transports it offers, and the one a session would run. */
export function describeTransportChoice(d: DeviceListing, request?: string, quirkText?: string):
  { offered: TransportProtocol[]; protocol: TransportProtocol | null; why: string } {
  const offered: TransportProtocol[] = [];
  if (d.protocol === 'BOT' || d.hasBotAltSetting) offered.push('bot');
  if (d.protocol === 'UAS' || d.hasUasAltSetting) offered.push('uas');
  try {
    const id = `${d.vendorId.toString(16).padStart(4, '0')}:${d.productId.toString(16).padStart(4, '0')}`;
    const text = quirkText === undefined || quirkText.trim() === '' ? undefined : quirkText.includes(':') ? quirkText : `${id}:${quirkText}`;
    const quirks = resolveQuirks({ vendorId: d.vendorId, productId: d.productId, speed: d.speed },
      text === undefined ? [] : parseQuirkOverrides(text));
    const c = chooseTransport({ bot: offered.includes('bot'), uas: offered.includes('uas'), speed: d.speed },
      parseTransportRequest(request), quirks.ignoreUas);
    return { offered, protocol: c.protocol, why: c.why };
  } catch (e) {
    return { offered, protocol: null, why: e instanceof Error ? e.message : String(e) };
  }
}
