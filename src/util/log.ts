/**
 * Logging through `debug`, one namespace per layer: usbms:usb, usbms:bot, usbms:hba, usbms:scsi, usbms:disk,
 * usbms:cli, usbms:mock. Enable with DEBUG=usbms:* (output goes to stderr).
 */
import createDebug from 'debug';

export type Layer = 'usb' | 'libusb' | 'bot' | 'quirks' | 'hba' | 'dma' | 'scsi' | 'disk' | 'cli' | 'mock' | 'rescue';

export function logger(layer: Layer, sub?: string): createDebug.Debugger {
  return createDebug(sub === undefined ? `usbms:${layer}` : `usbms:${layer}:${sub}`);
}
