/**
 * The yargs parser of the `usbms` command line: the global options (./context.ts), the command modules
 * (./registry.ts), and how usage mistakes are told. ./main.ts runs it; the docs check (test/apps/cli/docs.test.ts)
 * parses the command lines the documentation quotes with it, without running them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import type { Argv } from 'yargs';
import { moduleFor, nonNumberMessage } from './args.js';
import { globalOptions, type GlobalArgs } from './context.js';
import { MODULES, registerCompletion } from './registry.js';

/** What `usbms` alone says (then the help). */
export const NO_COMMAND = 'name a command (usbms --help lists them)';

/**
 * yargs renders a command's whole help text just before it runs the handler (usage.cacheHelpMessage), so that a
 * handler could print it later; no usbms handler does, and rendering it (cliui measuring every string of every
 * option) was a fifth of a short command's start-up. Replaced where yargs has it, left alone where it does not.
 */
function skipHelpCache(y: Argv<GlobalArgs>): void {
  type Usage = { cacheHelpMessage?: () => void };
  const internal = y as unknown as { getInternalMethods?: () => { getUsageInstance?: () => Usage | undefined } };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/**
 * The package's version, from the package.json of usbms above this module: dist/bin/cli.js (the bundle, whose
 * own folder has a package.json of its own), dist/apps/cli/parser.js, or src/apps/cli/parser.ts under the tests.
 */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'usbms' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here (or not JSON): look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/** How a usage mistake is told: the message, and whether the help should follow (nothing was asked). */
export type UsageFailure = (message: string, withHelp: boolean, y: Argv<GlobalArgs>) => void;

/** The parser for `args` (already through prepareArgs), with the modules the command needs (all when in doubt). */
export async function buildParser(args: string[], fail: UsageFailure): Promise<Argv<GlobalArgs>> {
  let cli: Argv<GlobalArgs> = globalOptions(yargs(args).scriptName('usbms'));
  const only = moduleFor(args);
  for (const [name, load] of Object.entries(MODULES)) {
    if (only === undefined || only === name) cli = (await load())(cli);
  }
  skipHelpCache(cli);
  return registerCompletion(cli)
    .demandCommand(1, NO_COMMAND)
    .strict()
    .help()
    .version('version', 'print the version of usbms', packageVersion())
    // Before any handler runs: a number option given something else is named as typed (./args.ts).
    .check((argv, options: { number?: string[]; alias?: Record<string, string[]> }) =>
      nonNumberMessage(argv, args, options.number ?? [], options.alias ?? {}) ?? true, true)
    .fail((msg: string | undefined, err: Error | undefined, y: Argv<GlobalArgs>) => {
      if (msg === undefined && err !== undefined) throw err;
      fail(msg ?? 'bad usage', msg === NO_COMMAND, y);
    });
}
