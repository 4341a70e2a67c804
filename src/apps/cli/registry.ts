/**
 * Every command module of the CLI, by name, each loaded only when asked for (./main.ts loads the one module a
 * command needs; --help, completion and tools/docs/cli-reference.ts load them all), and the completion command.
 */
import type { Argv } from 'yargs';
import { withExamples } from './examples.js';

/** Adds a module's commands to a yargs instance. */
export type Registrar = <T>(y: Argv<T>) => Argv<T>;

/**
 * Each command module, initialised only when its command runs (in the one-file bundle, each is an init function
 * esbuild calls at the import). Every module is loaded for --help, completion, no command, or a command this table
 * does not name, so a new command works before it is listed here.
 */
export const MODULES: Readonly<Record<string, () => Promise<Registrar>>> = {
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
  serve: async () => (await import('./commands/serve.js')).registerServeCommand,
};

/**
 * `usbms completion`. The script calls `usbms --get-yargs-completions ...`, which yargs answers from the commands
 * and options registered. yargs' own completion command prints the script even for --help, so it stays hidden
 * under another name and a plain command prints the script, with a --help and examples like every other command.
 */
export function registerCompletion<T>(y: Argv<T>): Argv<T> {
  return y.completion('completion-script', false)
    .command('completion', 'print a bash/zsh completion script', (b) => withExamples(b, 'completion'),
      () => { y.showCompletionScript(); });
}
