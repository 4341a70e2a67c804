/**
 * The `usbms` command line: a userspace USB mass-storage host in the sg3_utils tradition. Each command lives in
 * ./commands/; the parser in ./parser.ts, global options, session handling and exit statuses in ./context.ts and
 * ./exit.ts. The build bundles it into dist/bin/cli.js, which dist/bin/usbms.js (./launch.ts) runs.
 */
import { hideBin } from 'yargs/helpers';
import { prepareArgs } from './args.js';
import { EXIT } from './exit.js';
import { buildParser } from './parser.js';

/**
 * A reader that closes its end early (`usbms read 0 1000 | head -1`) is no error: the command ends quietly with
 * status 0, as Unix tools do. Node reports it as EPIPE on stdout, as an 'error' event of the stream (which would
 * otherwise crash the process) or as the rejection of a write the command awaits (../context.ts, run()).
 */
function endQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.OK);
    throw e;
  });
}

// A function, not top-level await: the bundle is CommonJS, so that V8's code cache can hold it (./code-cache.ts).
async function main(): Promise<void> {
  endQuietlyOnClosedStdout();
  const cli = await buildParser(prepareArgs(hideBin(process.argv)), (message, withHelp, y) => {
    // Usage mistakes: one line and exit 1 (sg3_utils' syntax error), the usage only when nothing was asked.
    process.stderr.write(`usbms: ${message}\n`);
    if (withHelp) process.stderr.write(`\n${y.help().toString()}\n`);
    process.exit(EXIT.SYNTAX_ERROR);
  });
  await cli.parseAsync();
}

// A failure no handler caught ends the process as an uncaught error would (exit 1, the stack on stderr).
void main();
