/** A software disk made from a file: a raw image to serve, or a `.json` device description (./mock-spec.ts). */
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { FileMedia, MockUsbDevice } from '../mock/index.js';
import { UsbmsOpenError } from './errors.js';
import { mockFromSpec } from './mock-spec.js';

/** The image file `path` served as a removable disk (read-only when the file is); UsbmsOpenError IMAGE if unusable. */
export function mockFromImage(path: string): MockUsbDevice {
  if (!existsSync(path)) throw new UsbmsOpenError('IMAGE', `image ${path} does not exist`);
  const size = statSync(path).size;
  if (size === 0 || size % 512 !== 0) {
    throw new UsbmsOpenError('IMAGE', `image ${path} is ${size} bytes, not a non-zero multiple of 512`);
  }
  let readOnly = false;
  try { accessSync(path, fsConstants.W_OK); } catch { readOnly = true; }
  const media = new FileMedia(path, { readOnly });
  // Served as a removable medium, as most USB flash drives report themselves (RMB=1), so eject works too.
  return new MockUsbDevice({ luns: [{ blocks: BigInt(size / 512), media, writeProtected: readOnly, removable: true }] });
}

/** `path` as a device: a `.json` description (UsbmsOpenError MOCK_SPEC when invalid), any other file an image. */
export function mockFromFile(path: string): MockUsbDevice {
  if (!path.toLowerCase().endsWith('.json')) return mockFromImage(path);
  try {
    return mockFromSpec(path);
  } catch (e) {
    throw new UsbmsOpenError('MOCK_SPEC', (e as Error).message, { cause: e });
  }
}
