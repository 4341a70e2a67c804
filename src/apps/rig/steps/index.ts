/** Every step kind and the function that runs it. */
import type { StepKind } from '../plan/types.js';
import type { StepRunner } from './context.js';
import { backup, counterfeit, powerCycle, restore, writeVerify } from './destructive.js';
import { endurance } from './endurance.js';
import { capacity, identify, readPoints, unitReady } from './read.js';
import { randomRead, randomWrite, sequentialRead, sequentialWrite } from './speed.js';

export const STEP_RUNNERS: Readonly<Record<StepKind, StepRunner>> = {
  'identify': identify, 'capacity': capacity, 'unit-ready': unitReady, 'read-points': readPoints,
  'sequential-read': sequentialRead, 'random-read': randomRead, 'backup': backup, 'counterfeit': counterfeit,
  'write-verify': writeVerify, 'sequential-write': sequentialWrite, 'random-write': randomWrite, 'restore': restore,
  'power-cycle': powerCycle, 'endurance': endurance,
};

export type { StepContext, StepOutcome, StepRunner, Figures, Figure } from './context.js';
