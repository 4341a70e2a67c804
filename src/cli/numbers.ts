/**
 * Number options that are not numbers. yargs turns `--lun abc` into NaN without a word, and the range check after
 * it can only say "--lun NaN is not 0..15". This check runs before any handler (a global yargs check) and names
 * the option and the text as typed: "--lun: 'abc' is not a number".
 */

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
