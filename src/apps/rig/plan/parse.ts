/**
 * Plan files: JSON checked key by key, so a typo in a rig's plan is a clear error naming the key
 * (`steps[2].thresholds.minMbps: unknown threshold (known: ...)`), never a silently ignored limit.
 */
import { UsbmsError } from '../../../util/errors.js';
import { readFileSync } from 'node:fs';
import { DEFAULT_TIMEOUT_S, type Plan, type Step, type StepKind, type StepParams, type Thresholds } from './types.js';

export class PlanError extends UsbmsError {
  override readonly name = 'PlanError';
  /** Where in the plan: `steps[2].params.cycles`, or '' for the plan as a whole. */
  constructor(readonly path: string, reason: string, readonly source = 'plan') {
    super('RIG_PLAN', `${source}${path === '' ? '' : ` ${path}`}: ${reason}`);
  }
}

type Kind = 'posInt' | 'nonNegInt' | 'posNumber' | 'nonNegNumber' | 'boolean' | 'reset' | 'class';

const PARAM_KINDS: Readonly<Record<keyof StepParams, Kind>> = {
  sizeMiB: 'posNumber', chunkKiB: 'posInt', ios: 'posInt', ioKiB: 'posInt', seed: 'nonNegInt', random: 'nonNegInt',
  resetType: 'reset', cycles: 'posInt', powerCycle: 'boolean', offMs: 'nonNegInt', coolDownS: 'nonNegNumber',
  limitMiB: 'posNumber',
};

const THRESHOLD_KINDS: Readonly<Record<keyof Thresholds, Kind>> = {
  minMBps: 'nonNegNumber', minWriteMBps: 'nonNegNumber', minIops: 'nonNegNumber', class: 'class',
  maxBadBlocks: 'nonNegInt', minBytes: 'nonNegInt',
};

/** Which parameters and thresholds each step understands. */
const ALLOWED: Readonly<Record<StepKind, { params: readonly (keyof StepParams)[]; thresholds: readonly (keyof Thresholds)[] }>> = {
  'identify': { params: [], thresholds: [] },
  'capacity': { params: [], thresholds: ['minBytes'] },
  'unit-ready': { params: [], thresholds: [] },
  'read-points': { params: [], thresholds: [] },
  'sequential-read': { params: ['sizeMiB', 'chunkKiB'], thresholds: ['minMBps'] },
  'random-read': { params: ['ios', 'ioKiB', 'seed'], thresholds: ['minIops', 'class'] },
  'backup': { params: ['chunkKiB'], thresholds: [] },
  'counterfeit': { params: ['seed', 'random', 'resetType', 'offMs'], thresholds: [] },
  'write-verify': { params: ['chunkKiB', 'seed', 'limitMiB'], thresholds: ['maxBadBlocks', 'minWriteMBps', 'minMBps'] },
  'sequential-write': { params: ['sizeMiB', 'chunkKiB', 'seed'], thresholds: ['minMBps'] },
  'random-write': { params: ['ios', 'ioKiB', 'seed'], thresholds: ['minIops', 'class'] },
  'restore': { params: ['chunkKiB'], thresholds: [] },
  'power-cycle': { params: ['offMs'], thresholds: [] },
  'endurance': {
    params: ['cycles', 'powerCycle', 'offMs', 'coolDownS', 'chunkKiB', 'seed', 'limitMiB'],
    thresholds: ['maxBadBlocks', 'minWriteMBps', 'minMBps'],
  },
};

export const STEP_KINDS = Object.keys(ALLOWED) as StepKind[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkValue(kind: Kind, v: unknown, path: string, source: string): unknown {
  const bad = (what: string): never => { throw new PlanError(path, `${JSON.stringify(v)} is not ${what}`, source); };
  switch (kind) {
    case 'posInt': return Number.isSafeInteger(v) && (v as number) > 0 ? v : bad('a positive integer');
    case 'nonNegInt': return Number.isSafeInteger(v) && (v as number) >= 0 ? v : bad('a non-negative integer');
    case 'posNumber': return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : bad('a positive number');
    case 'nonNegNumber': return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : bad('a non-negative number');
    case 'boolean': return typeof v === 'boolean' ? v : bad('true or false');
    case 'reset': return v === 'none' || v === 'bot' || v === 'port' || v === 'power' ? v : bad('none, bot, port or power');
    case 'class': return v === 'A1' || v === 'A2' ? v : bad('"A1" or "A2"');
  }
}

function checkTable<T>(v: unknown, allowed: readonly (keyof T)[], kinds: Readonly<Record<keyof T, Kind>>, path: string,
  what: string, source: string): T {
  if (v === undefined) return {} as T;
  if (!isObject(v)) throw new PlanError(path, `${what} must be an object`, source);
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) {
    if (!(allowed as readonly string[]).includes(k)) {
      throw new PlanError(`${path}.${k}`, `unknown ${what.replace(/s$/, '')} for this step (known: ${allowed.join(', ') || 'none'})`, source);
    }
    out[k] = checkValue(kinds[k as keyof T], value, `${path}.${k}`, source);
  }
  return out as T;
}

function parseStep(v: unknown, i: number, source: string): Step {
  const path = `steps[${i}]`;
  if (!isObject(v)) throw new PlanError(path, 'a step must be an object like { "step": "identify" }', source);
  for (const k of Object.keys(v)) {
    if (!['step', 'name', 'params', 'thresholds', 'timeoutS'].includes(k)) {
      throw new PlanError(`${path}.${k}`, 'unknown key (known: step, name, params, thresholds, timeoutS)', source);
    }
  }
  const kind = v.step;
  if (typeof kind !== 'string' || !(kind in ALLOWED)) {
    throw new PlanError(`${path}.step`, `${JSON.stringify(kind)} is not a step (known: ${STEP_KINDS.join(', ')})`, source);
  }
  const step = kind as StepKind;
  if (v.name !== undefined && (typeof v.name !== 'string' || v.name.trim() === '')) {
    throw new PlanError(`${path}.name`, 'must be a non-empty string', source);
  }
  const timeoutS = v.timeoutS === undefined ? DEFAULT_TIMEOUT_S[step]
    : checkValue('posNumber', v.timeoutS, `${path}.timeoutS`, source) as number;
  return {
    step, name: (v.name) ?? step, timeoutS,
    params: checkTable<StepParams>(v.params, ALLOWED[step].params, PARAM_KINDS, `${path}.params`, 'params', source),
    thresholds: checkTable<Thresholds>(v.thresholds, ALLOWED[step].thresholds, THRESHOLD_KINDS, `${path}.thresholds`,
      'thresholds', source),
  };
}

/** Check a plan given as parsed JSON. `source` names it in errors (a file name, or "plan quick"). */
export function parsePlan(json: unknown, source = 'plan'): Plan {
  if (!isObject(json)) throw new PlanError('', 'a plan must be a JSON object with "steps"', source);
  for (const k of Object.keys(json)) {
    if (!['name', 'description', 'steps', 'restore'].includes(k)) {
      throw new PlanError(k, 'unknown key (known: name, description, steps, restore)', source);
    }
  }
  if (json.name !== undefined && typeof json.name !== 'string') throw new PlanError('name', 'must be a string', source);
  if (json.description !== undefined && typeof json.description !== 'string') {
    throw new PlanError('description', 'must be a string', source);
  }
  if (json.restore !== undefined && typeof json.restore !== 'boolean') throw new PlanError('restore', 'must be true or false', source);
  if (!Array.isArray(json.steps) || json.steps.length === 0) throw new PlanError('steps', 'must be a non-empty list', source);
  const steps = json.steps.map((s, i) => parseStep(s, i, source));
  const names = new Set<string>();
  steps.forEach((s, i) => {
    if (names.has(s.name)) throw new PlanError(`steps[${i}].name`, `"${s.name}" is used twice (give the step a "name")`, source);
    names.add(s.name);
  });
  return { name: (json.name) ?? source, description: (json.description) ?? '',
    steps, restore: json.restore === true };
}

/** Read and check a plan file. */
export function loadPlanFile(path: string): Plan {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PlanError('', (e as Error).message, `plan file ${path}`);
  }
  return parsePlan(json, `plan file ${path}`);
}
