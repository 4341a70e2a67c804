/**
 * The `usbms` command line: a userspace USB mass-storage host in the sg3_utils tradition. Each command lives in
 * ./commands/; global options, session handling and exit statuses in ./context.ts and ./exit.ts. The build bundles
 * it into dist/bin/cli.js, which dist/bin/usbms.js (./launch.ts) runs.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { Argv } from 'yargs';
import { globalOptions, type GlobalArgs } from './context.js';
import { withExamples } from './examples.js';
import { EXIT } from './exit.js';

const COMMANDS = new Set(['list', 'power', 'inquiry', 'capacity', 'tur', 'sense', 'decode-sense', 'read', 'write', 'image',
  'restore', 'verify', 'probe', 'rescue', 'bench', 'tune', 'reset', 'eject', 'raw', 'demo', 'completion', 'validate']);

/**
 * `--mock` takes an optional IMAGE, so yargs would swallow the command in `usbms --mock read 0`. A value that is a
 * command name, another option or nothing at all means the built-in disk: rewrite it to the explicit `--mock=`.
 */
function normaliseMockFlag(argv: string[]): string[] {
  return argv.map((a, i) => {
    if (a !== '--mock') return a;
    const next = argv[i + 1];
    return next === undefined || next.startsWith('-') || COMMANDS.has(next) ? '--mock=' : a;
  });
}

type Registrar = <T>(y: Argv<T>) => Argv<T>;
/**
 * Each command module, initialised only when its command runs (in the one-file bundle, each is an init function
 * esbuild calls at the import). Every module is loaded for --help, completion, no command, or a command this table
 * does not name, so a new command works before it is listed here.
 */
const MODULES: Record<string, () => Promise<Registrar>> = {
  list: async () => (await import('./commands/list.js')).registerListCommand,
  info: async () => (await import('./commands/info.js')).registerInfoCommands,
  power: async () => (await import('./commands/power.js')).registerPowerCommand,
  io: async () => (await import('./commands/io.js')).registerIoCommands,
  probe: async () => (await import('./commands/probe.js')).registerProbeCommand,
  validate: async () => (await import('./commands/validate.js')).registerValidateCommand,
  rescue: async () => (await import('./commands/rescue.js')).registerRescueCommand,
  tools: async () => (await import('./commands/tools.js')).registerToolCommands,
  tune: async () => (await import('./commands/tune.js')).registerTuneCommand,
  demo: async () => (await import('./commands/demo.js')).registerDemoCommand,
};
const MODULE_OF: Readonly<Record<string, string>> = {
  list: 'list', inquiry: 'info', capacity: 'info', tur: 'info', sense: 'info', 'decode-sense': 'info', power: 'power',
  read: 'io', write: 'io', image: 'io', restore: 'io', verify: 'io', probe: 'probe', validate: 'validate',
  rescue: 'rescue', bench: 'tools', reset: 'tools', eject: 'tools', raw: 'tools', tune: 'tune', demo: 'demo',
};

/** The module of the command asked for, or undefined when every module is needed. */
function moduleFor(argv: readonly string[]): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a.startsWith('--get-yargs-completions'))) return undefined;
  const first = argv.find((a) => COMMANDS.has(a));
  return first === undefined ? undefined : MODULE_OF[first];
}

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

// A function, not top-level await: the bundle is CommonJS, so that V8's code cache can hold it (./code-cache.ts).
async function main(): Promise<void> {
  const args = normaliseMockFlag(hideBin(process.argv));
  let cli: Argv<GlobalArgs> = globalOptions(yargs(args).scriptName('usbms'));
  const only = moduleFor(args);
  for (const [name, load] of Object.entries(MODULES)) {
    if (only === undefined || only === name) cli = (await load())(cli);
  }
  // The script calls `usbms --get-yargs-completions ...`, which yargs answers from the commands and options above.
  // yargs' own completion command prints the script even for --help, so it stays hidden under another name and a
  // plain command prints the script, with a --help and examples like every other command.
  skipHelpCache(cli);
  cli = cli.completion('completion-script', false)
    .command('completion', 'print a bash/zsh completion script', (b) => withExamples(b, 'completion'),
      () => { cli.showCompletionScript(); });

  await cli
    .demandCommand(1, 'usbms: name a command (usbms --help lists them)')
    .strict()
    .help()
    .version(false)
    .fail((msg: string | undefined, err: Error | undefined, y) => {
      // Usage mistakes: one line and exit 1 (sg3_utils' syntax error), the usage only when nothing was asked.
      if (msg === undefined && err !== undefined) throw err;
      process.stderr.write(`usbms: ${msg ?? 'bad usage'}\n`);
      if (msg?.startsWith('usbms: name a command') === true) process.stderr.write(`${y.help().toString()}\n`);
      process.exit(EXIT.SYNTAX_ERROR);
    })
    .parseAsync();
}

// A failure no handler caught ends the process as an uncaught error would (exit 1, the stack on stderr).
void main();
