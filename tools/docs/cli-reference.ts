/**
 * docs/cli.md, the command reference, written from the yargs definitions themselves so that it cannot drift from
 * the CLI: every command module (src/apps/cli/registry.ts) and the global options (src/apps/cli/context.ts) are
 * registered on a recorder that notes each `command`, `positional`, `option` and `example` call, and the notes
 * become Markdown. `npm run docs:cli` runs this file (compiled to build/tools/docs/) and writes the page;
 * test/apps/cli/docs.test.ts fails when the page in the tree is not what this file makes.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv, Options, PositionalOptions } from 'yargs';
import { globalOptions } from '../../src/apps/cli/context.js';
import { MODULES, registerCompletion, type Registrar } from '../../src/apps/cli/registry.js';
import { packageRoot } from '../root.js';

/** What a yargs builder declared. */
interface Declared {
  readonly positionals: [string, PositionalOptions][];
  readonly options: [string, Options][];
  readonly examples: [string, string][];
  readonly commands: { usage: string; describe: string; declared: Declared }[];
}

type Builder = (y: Argv<unknown>) => unknown;

/** A stand-in for a yargs instance that records declarations and returns itself from every other call. */
function recorder(): { y: Argv<unknown>; declared: Declared } {
  const declared: Declared = { positionals: [], options: [], examples: [], commands: [] };
  const self: Argv<unknown> = new Proxy({}, {
    get(_target, method: string) {
      return (...args: unknown[]) => {
        if (method === 'option' || method === 'options') declared.options.push([args[0] as string, args[1] ?? {}]);
        else if (method === 'positional') declared.positionals.push([args[0] as string, args[1] ?? {}]);
        else if (method === 'example') declared.examples.push([args[0] as string, (args[1] ?? '') as string]);
        else if (method === 'command') {
          const inner = recorder();
          (args[2] as Builder | undefined)?.(inner.y);
          declared.commands.push({ usage: args[0] as string, describe: args[1] as string, declared: inner.declared });
        }
        return self;
      };
    },
  }) as Argv<unknown>;
  return { y: self, declared };
}

/** Every command of the CLI and the global options, as declared. */
export async function declarations(): Promise<Declared> {
  const { y, declared } = recorder();
  globalOptions(y);
  const registrars: Registrar[] = [];
  for (const load of Object.values(MODULES)) registrars.push(await load());
  for (const register of registrars) register(y);
  registerCompletion(y);
  return declared;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string): string => `\`${text.replace(/`/g, '\\`')}\``;

function flags(name: string, o: Options): string {
  const alias: string | readonly string[] | undefined = o.alias;
  const aliases: readonly string[] = alias === undefined ? [] : typeof alias === 'string' ? [alias] : alias;
  return [...aliases, name].map((n) => code(n.length === 1 ? `-${n}` : `--${n}`)).join(', ');
}

function typeOf(o: Options | PositionalOptions): string {
  if (o.choices !== undefined) return (o.choices as unknown[]).map((c) => code(String(c))).join(' \\| ');
  return `${o.type ?? 'string'}${o.array === true ? ' ...' : ''}`;
}

function defaultOf(o: Options): string {
  if (o.default === undefined) return o.demandOption === undefined || o.demandOption === false ? '' : 'required';
  return code(String(o.default));
}

function optionTable(options: readonly [string, Options][]): string[] {
  if (options.length === 0) return [];
  return ['| option | type | default | what it does |', '|---|---|---|---|',
    ...options.map(([name, o]) => `| ${flags(name, o)} | ${typeOf(o)} | ${defaultOf(o)} | ${cell(o.describe ?? '')} |`), ''];
}

/** The GitHub anchor of a heading "usbms read": "usbms-read". */
export function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s/g, '-');
}

/** The Markdown of docs/cli.md. */
export function renderReference(d: Declared): string {
  const commands = d.commands; // in the order `usbms --help` lists them
  const nameOf = (usage: string): string => usage.split(' ')[0] ?? usage;
  const out: string[] = [
    '# usbms command reference',
    '',
    '<!-- Generated from the yargs definitions in src/apps/cli/ by `npm run docs:cli` (tools/docs/cli-reference.ts); ' +
      'test/apps/cli/docs.test.ts fails when this page is out of date. Do not edit by hand. -->',
    '',
    '`usbms <command> [options]`: data and `--json` go to stdout, progress and messages to stderr, and the exit',
    'status is sg3_utils\' (0 success, 1 usage, 2 not ready, 3 medium or hardware error, 15 file, 33 timeout,',
    '35 transport ...). `usbms COMMAND --help` prints what this page says of a command. A FILE given as `-` is',
    'stdout for `--out` and stdin for `--in`.',
    '',
    '| command | what it does |',
    '|---|---|',
    ...commands.map((c) => `| [${code(`usbms ${c.usage}`)}](#${anchorOf(`usbms ${nameOf(c.usage)}`)}) | ${cell(c.describe)} |`),
    '',
    '## Global options',
    '',
    'Every command takes these (those that open no device ignore the device options), and `--help` and `--version`.',
    '',
    ...optionTable(d.options),
  ];
  for (const c of commands) {
    const { positionals, options, examples } = c.declared;
    out.push(`## usbms ${nameOf(c.usage)}`, '', code(`usbms ${c.usage}`), '',
      `${c.describe.charAt(0).toUpperCase()}${c.describe.slice(1)}.`, '');
    if (positionals.length > 0) {
      out.push('| argument | type | what it is |', '|---|---|---|',
        ...positionals.map(([name, o]) => `| ${code(name)} | ${typeOf(o)} | ${cell(o.describe ?? '')} |`), '');
    }
    out.push(...optionTable(options));
    if (examples.length > 0) {
      out.push('```sh', ...examples.map(([line, what]) => `${line}  # ${what}`), '```', '');
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The page as the CLI declares it now. */
export async function cliReference(): Promise<string> {
  return renderReference(await declarations());
}

/** Where the page lives: docs/cli.md of the package. */
export const REFERENCE_FILE = join(packageRoot(import.meta.dirname), 'docs/cli.md');

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(REFERENCE_FILE, await cliReference());
  process.stdout.write(`wrote ${REFERENCE_FILE}\n`);
}
