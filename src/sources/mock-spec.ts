/**
 * `--mock=DEVICE.json`: a software USB disk described in JSON, so a user can watch how usbms (and the scripts
 * they build on its exit statuses) behave with a medium error, a missing or write-protected medium, a
 * counterfeit stick or a device that stops answering, without owning such a device:
 *
 * ```json
 * { "personality": "counterfeit",
 *   "device": { "speed": "high", "serialNumber": "TEST1", "powerOnUnitAttention": true },
 *   "luns": [{ "blocks": 8192, "removable": true, "present": true, "writeProtected": false, "image": "disk.img" }],
 *   "faults": [{ "match": { "opcode": 40 }, "fault": { "kind": "medium-error", "lbas": [100, 101] } }] }
 * ```
 *
 * Every key is optional. `device` takes the MockDeviceOptions of src/mock (without `luns`), each LUN its
 * MockLunOptions plus `image` (a raw file served by FileMedia, relative to the JSON file), `faults` the rules of
 * `device.faults.inject`; `hangs` and `dropouts` the hang areas and drop-outs of src/mock/wedge-spec.ts. Numbers
 * that may exceed 2^53 (blocks, LBAs) may be given as decimal strings.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  applyWedgeSpec, createPersonality, FileMedia, MockUsbDevice, PERSONALITY_IDS,
  type Fault, type FaultKind, type FaultRule, type MockDeviceOptions, type MockLunOptions, type PersonalityName,
} from '../mock/index.js';
import { FAULT_KEYS, FAULT_MATCH_KEYS, FAULT_RULE_KEYS, MOCK_DEVICE_KEYS, MOCK_LUN_KEYS } from '../mock/option-keys.js';
import { PERSONALITY_KEYS } from '../mock/personalities.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys } from '../util/options.js';

/** A device description that cannot be used: the message says which key is wrong. */
export class MockSpecError extends UsbmsArgumentError {
  override readonly name = 'MockSpecError';
}

type Json = Record<string, unknown>;

/** The keys of a description, and of its `device` and `luns[i]` (the options of src/mock, in JSON terms). */
const SPEC_KEYS = { personality: true, device: true, luns: true, faults: true, hangs: true, dropouts: true } as const;
// uasScsi is a program's own SCSI backend: no JSON can name one.
const { luns: _luns, uasScsi: _uasScsi, ...DEVICE_KEYS } = MOCK_DEVICE_KEYS;
const { luns: _personalityLuns, uasScsi: _personalityUasScsi, ...PERSONALITY_DEVICE_KEYS } = PERSONALITY_KEYS;
const { media: _media, ...JSON_LUN_KEYS } = { ...MOCK_LUN_KEYS, image: true } as const;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function big(v: unknown, where: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  throw new MockSpecError(`${where}: ${JSON.stringify(v)} is not a non-negative integer`);
}

function lunOptions(v: unknown, i: number, base: string): MockLunOptions {
  if (!isObject(v)) throw new MockSpecError(`luns[${i}] is not an object`);
  rejectUnknownKeys(v, JSON_LUN_KEYS, `luns[${i}]`);
  const { image, blocks, ...rest } = v;
  const lun = { ...rest } as unknown as MockLunOptions;
  if (image !== undefined) {
    if (typeof image !== 'string') throw new MockSpecError(`luns[${i}].image is not a file name`);
    const path = resolve(base, image);
    if (!existsSync(path)) throw new MockSpecError(`luns[${i}].image: ${path} does not exist`);
    const blockSize = lun.blockSize ?? 512;
    const size = statSync(path).size;
    if (size === 0 || size % blockSize !== 0) {
      throw new MockSpecError(`luns[${i}].image: ${path} is ${size} bytes, not a non-zero multiple of ${blockSize}`);
    }
    lun.media = new FileMedia(path, { readOnly: lun.writeProtected === true });
    lun.blocks = blocks === undefined ? BigInt(size / blockSize) : big(blocks, `luns[${i}].blocks`);
  } else {
    lun.blocks = big(blocks ?? 131072, `luns[${i}].blocks`);
  }
  return lun;
}

function faultRule(v: unknown, i: number): FaultRule {
  if (!isObject(v) || !isObject(v.fault) || typeof v.fault.kind !== 'string') {
    throw new MockSpecError(`faults[${i}] needs { "fault": { "kind": ... } }`);
  }
  rejectUnknownKeys(v, FAULT_RULE_KEYS, `faults[${i}]`);
  rejectUnknownKeys(v.match, FAULT_MATCH_KEYS, `faults[${i}].match`);
  const fault: Json = { ...v.fault };
  if (typeof fault.kind !== 'string' || !Object.hasOwn(FAULT_KEYS, fault.kind)) {
    throw new MockSpecError(`faults[${i}].fault.kind ${JSON.stringify(fault.kind)} is not one of ` +
      `${Object.keys(FAULT_KEYS).join(', ')}`);
  }
  rejectUnknownKeys(fault, FAULT_KEYS[fault.kind as FaultKind], `faults[${i}].fault`);
  if (fault.kind === 'medium-error') {
    if (!Array.isArray(fault.lbas)) throw new MockSpecError(`faults[${i}].fault.lbas is not a list of LBAs`);
    fault.lbas = fault.lbas.map((l, j) => big(l, `faults[${i}].fault.lbas[${j}]`));
  }
  return { ...v, fault: fault as unknown as Fault };
}

function parseSpec(path: string): Json {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new MockSpecError(`device description ${path}: ${(e as Error).message}`);
  }
  if (!isObject(spec)) throw new MockSpecError(`device description ${path} is not a JSON object`);
  return spec;
}

/** Build the device a JSON description names. Throws MockSpecError (with the device's own reason) on any mistake. */
export function mockFromSpec(path: string): MockUsbDevice {
  if (!existsSync(path)) throw new MockSpecError(`device description ${path} does not exist`);
  const spec = parseSpec(path);
  try {
    rejectUnknownKeys(spec, SPEC_KEYS, 'the description');
    const { personality, device = {}, luns, faults = [], hangs, dropouts } = spec;
    if (!isObject(device)) throw new MockSpecError('"device" is not an object');
    rejectUnknownKeys(device, personality === undefined ? DEVICE_KEYS : PERSONALITY_DEVICE_KEYS, '"device"');
    if (luns !== undefined && !Array.isArray(luns)) throw new MockSpecError('"luns" is not a list');
    if (!Array.isArray(faults)) throw new MockSpecError('"faults" is not a list');
    const opts = { ...device } as MockDeviceOptions;
    if (luns !== undefined) opts.luns = luns.map((l, i) => lunOptions(l, i, dirname(resolve(path))));
    let dev: MockUsbDevice;
    if (personality === undefined) dev = new MockUsbDevice(opts);
    else if (typeof personality === 'string' && personality in PERSONALITY_IDS) {
      dev = createPersonality(personality as PersonalityName, opts);
    } else {
      throw new MockSpecError(`personality ${JSON.stringify(personality)} is not one of ` +
        `${Object.keys(PERSONALITY_IDS).join(', ')}`);
    }
    faults.forEach((f, i) => { dev.faults.inject(faultRule(f, i)); });
    applyWedgeSpec(dev, hangs, dropouts); // hang areas and drop-outs (src/mock/wedge.ts)
    return dev;
  } catch (e) {
    if (e instanceof MockSpecError) throw e;
    throw new MockSpecError(`device description ${path}: ${(e as Error).message}`);
  }
}
