#!/usr/bin/env node
/**
 * The `usbms` command line: a userspace USB mass-storage host in the sg3_utils tradition. Each command lives in
 * ./commands/; global options, session handling and exit statuses in ./context.ts and ./exit.ts.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { registerDemoCommand } from './commands/demo.js';
import { registerInfoCommands } from './commands/info.js';
import { registerIoCommands } from './commands/io.js';
import { registerProbeCommand } from './commands/probe.js';
import { registerToolCommands } from './commands/tools.js';
import { globalOptions } from './context.js';
import { EXIT } from './exit.js';

const COMMANDS = new Set(['list', 'inquiry', 'capacity', 'tur', 'sense', 'decode-sense', 'read', 'write', 'image',
  'restore', 'verify', 'probe', 'bench', 'reset', 'eject', 'raw', 'demo']);

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

let cli = globalOptions(yargs(normaliseMockFlag(hideBin(process.argv))).scriptName('usbms'));
cli = registerInfoCommands(cli);
cli = registerIoCommands(cli);
cli = registerProbeCommand(cli);
cli = registerToolCommands(cli);
cli = registerDemoCommand(cli);

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
