/**
 * The command line's arguments before and beside yargs: the rewrites yargs needs to read `--mock` and `-` as
 * usbms means them, the module a command lives in, and number options that are not numbers (yargs turns
 * `--lun abc` into NaN without a word, and the range check after it could only say "--lun NaN is not 0..15"; the
 * check here runs before any handler and names the option and the text as typed: "--lun: 'abc' is not a number").
 */

/** The command names (main.ts: which module to load; `--mock COMMAND` is no image). */
export const COMMANDS = new Set(['list', 'power', 'inquiry', 'capacity', 'tur', 'sense', 'decode-sense', 'read', 'write', 'image',
  'restore', 'verify', 'probe', 'rescue', 'bench', 'tune', 'reset', 'eject', 'raw', 'demo', 'completion', 'validate', 'serve']);

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

/** Options whose FILE may be `-` (stdout for --out, stdin for --in); yargs would take a lone `-` as a positional. */
const STDIO_FILE_OPTIONS = new Set(['--out', '-o', '--in', '-i']);

/** `--out -` becomes `--out=-`, which yargs reads as the value `-`. */
function joinStdioDash(argv: string[]): string[] {
  const joined: string[] = [];
  for (const a of argv) {
    const last = joined.length - 1;
    if (a === '-' && STDIO_FILE_OPTIONS.has(joined[last] ?? '')) joined[last] = `${joined[last]}=-`;
    else joined.push(a);
  }
  return joined;
}

/** `argv` as yargs is to read it: `--mock` before a command and `--out -` rewritten (see above). */
export function prepareArgs(argv: string[]): string[] {
  return joinStdioDash(normaliseMockFlag(argv));
}

/** Which module of ./registry.ts holds each command. */
const MODULE_OF: Readonly<Record<string, string>> = {
  list: 'list', inquiry: 'info', capacity: 'info', tur: 'info', sense: 'info', 'decode-sense': 'info', power: 'power',
  read: 'io', write: 'io', image: 'io', restore: 'io', verify: 'io', probe: 'probe', validate: 'validate',
  rescue: 'rescue', bench: 'tools', reset: 'tools', eject: 'tools', raw: 'tools', tune: 'tune', demo: 'demo', serve: 'serve',
};

/** The module of the command asked for, or undefined when every module is needed. */
export function moduleFor(argv: readonly string[]): string | undefined {
  if (argv.some((a) => a === '--help' || a === '-h' || a.startsWith('--get-yargs-completions'))) return undefined;
  const first = argv.find((a) => COMMANDS.has(a));
  return first === undefined ? undefined : MODULE_OF[first];
}

/** The text given for option `name` (or one of its aliases) in `args`: the last one, as yargs keeps the last. */
export function typedValue(args: readonly string[], names: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') break;
    for (const n of names) {
      const flag = n.length === 1 ? `-${n}` : `--${n}`;
      if (a === flag) found = args[i + 1] ?? '';
      else if (a.startsWith(`${flag}=`)) found = a.slice(flag.length + 1);
    }
  }
  return found;
}

/**
 * The first number option in `argv` (yargs' parsed arguments) whose value is not a number, as a message; undefined
 * when every one is a number. `numberOptions` and `aliases` are what yargs' getOptions() reports.
 */
export function nonNumberMessage(argv: Readonly<Record<string, unknown>>, args: readonly string[],
  numberOptions: readonly string[], aliases: Readonly<Record<string, readonly string[]>>): string | undefined {
  for (const name of numberOptions) {
    const text = typedValue(args, [name, ...(aliases[name] ?? [])]);
    // `--lun` last or before another option: yargs falls back to the default without a word.
    if (text !== undefined && (text === '' || (text.startsWith('-') && Number.isNaN(Number(text))))) {
      return `--${name} needs a number`;
    }
    const value = argv[name];
    const values = Array.isArray(value) ? value as unknown[] : [value];
    if (values.some((v) => typeof v === 'number' && Number.isNaN(v))) return `--${name}: '${text ?? ''}' is not a number`;
  }
  return undefined;
}
