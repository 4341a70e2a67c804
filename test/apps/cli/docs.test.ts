/**
 * The documentation cannot drift from the tree (issue 21): docs/cli.md is what `npm run docs:cli` makes of the
 * yargs definitions now; every relative link in README.md and docs/*.md names a file that exists (and a heading
 * that exists, when it names one); every `usbms ...` command line quoted in their code blocks parses with the CLI's
 * own parser (src/apps/cli/parser.ts), which is stopped before any command would run.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { prepareArgs } from '../../../src/apps/cli/args.js';
import { buildParser } from '../../../src/apps/cli/parser.js';
import { anchorOf, cliReference, REFERENCE_FILE } from '../../../tools/docs/cli-reference.js';
import { ROOT } from './build.js';

/** README.md and every page of docs/ (not the generated API reference, docs/api/). */
function pages(): string[] {
  const docs = join(ROOT, 'docs');
  const inDocs = existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f)) : [];
  return [join(ROOT, 'README.md'), ...inDocs];
}

const rel = (file: string): string => relative(ROOT, file);

/** The page with its fenced code blocks blanked out, and its inline code too unless `keepInline`. */
function prose(text: string, keepInline = false): string {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const f = /^[ \t]*(```|~~~)/.exec(line)?.[1];
    const inCode = fence !== undefined || f !== undefined;
    if (f !== undefined) fence = fence === undefined ? f : fence === f ? undefined : fence;
    if (inCode) return ' '.repeat(line.length);
    return keepInline ? line : line.replace(/`[^`]*`/g, (m) => ' '.repeat(m.length)); // a link inside code is no link
  }).join('\n');
}

/** The anchors a page offers: its headings as GitHub slugs them (repeats get -1, -2 ...), and <a id/name>. */
function anchors(file: string): Set<string> {
  const text = prose(readFileSync(file, 'utf8'), true);
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = anchorOf((m[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*_`]/g, ''));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1] ?? '');
  return out;
}

/** Relative link targets of a page: [text](target), ![alt](target), [ref]: target, href="target". */
function links(file: string): { target: string; line: number }[] {
  const text = prose(readFileSync(file, 'utf8'));
  const found: { target: string; line: number }[] = [];
  const lineOf = (index: number): number => text.slice(0, index).split('\n').length;
  const patterns = [/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, /^\s*\[[^\]]+\]:\s*(\S+)/gm, /href="([^"]+)"/g];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const target = m[1] ?? '';
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, mailto: ...
      found.push({ target, line: lineOf(m.index) });
    }
  }
  return found;
}

/** Why a relative link of `file` does not resolve, or undefined. */
function brokenLink(file: string, target: string): string | undefined {
  const [path = '', fragment] = target.split('#', 2);
  const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path.split('?')[0] ?? ''));
  if (!existsSync(dest)) return `${path} does not exist`;
  if (fragment === undefined || fragment === '' || !dest.endsWith('.md') || statSync(dest).isDirectory()) return undefined;
  return anchors(dest).has(fragment.toLowerCase()) ? undefined : `${rel(dest)} has no heading #${fragment}`;
}

/** Shell words of one command (quotes and backslashes as sh reads them), cut at the first operator or comment. */
export function shellCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  const end = (): void => { if (word !== undefined) commands.at(-1)?.push(word); word = undefined; };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word = (word ?? '') + line[++i];
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") { quote = c; word ??= ''; }
    else if (c === '\\' && i + 1 < line.length) word = (word ?? '') + line[++i];
    else if (/\s/.test(c)) end();
    else if (c === '#' && word === undefined) break;
    else if ('|;&'.includes(c)) { end(); commands.push([]); if (line[i + 1] === c) i++; }
    else if ('<>'.includes(c)) {
      // A redirection: drop it and its file (`2>&1`, `> out`, `< in`), and a descriptor number before it.
      if (word !== undefined && /^\d+$/.test(word)) word = undefined;
      end();
      while (line[i + 1] === '>' || line[i + 1] === '&') i++;
      while (/\s/.test(line[i + 1] ?? '')) i++;
      while (i + 1 < line.length && !/[\s|;&<>]/.test(line[i + 1] ?? '')) i++;
    } else word = (word ?? '') + c;
  }
  end();
  return commands.filter((c) => c.length > 0);
}

/** The arguments of each `usbms` command in a code line (after a prompt, VAR=value, sudo or npx), or none. */
function usbmsArgs(line: string): string[][] {
  return shellCommands(line.replace(/^\s*[$#>]\s+/, '')).flatMap((words) => {
    let i = 0;
    while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] ?? '') || ['sudo', 'npx', 'env'].includes(words[i] ?? ''))) i++;
    return words[i] === 'usbms' ? [words.slice(i + 1)] : [];
  });
}

/** Every `usbms` command line in the fenced code blocks of `file`, with its line number. */
function quotedCommands(file: string): { args: string[]; line: number; text: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: { args: string[]; line: number; text: string }[] = [];
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    const f = /^[ \t]*(```|~~~)/.exec(l)?.[1];
    if (f !== undefined) { fence = fence === undefined ? f : fence === f ? undefined : fence; continue; }
    if (fence === undefined) continue;
    let text = l;
    const first = i;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i] ?? ''}`;
    for (const args of usbmsArgs(text)) out.push({ args, line: first + 1, text: text.trim() });
  }
  return out;
}

/** Parsed as far as yargs goes before a handler would run: thrown by a middleware, so nothing runs. */
class Parsed extends Error { }

/** The usage mistake yargs reports for `args`, or undefined when the line parses. */
async function usageError(args: string[]): Promise<string | undefined> {
  let mistake: string | undefined;
  // yargs may report a mistake twice (a check's message, then the throw that ended it): the first one is it.
  const parser = await buildParser(prepareArgs(args), (message) => { mistake ??= message; throw new Parsed(); });
  try {
    await parser.exitProcess(false).middleware(() => { throw new Parsed(); }).parseAsync();
  } catch (e) {
    if (!(e instanceof Parsed)) return `threw ${String(e)}`;
  }
  return mistake;
}

describe('docs/cli.md', () => {
  it('is what `npm run docs:cli` makes of the yargs definitions now', async () => {
    const now = await cliReference();
    const page = existsSync(REFERENCE_FILE) ? readFileSync(REFERENCE_FILE, 'utf8') : '';
    expect(page === now, 'docs/cli.md is out of date: run `npm run docs:cli`').toBe(true);
  });

  it('has a section for every command `usbms --help` lists', async () => {
    const page = await cliReference();
    const help = await import('../../../src/apps/cli/args.js');
    for (const name of help.COMMANDS) expect(page).toContain(`\n## usbms ${name}\n`);
  });
});

describe('README.md and docs/*.md', () => {
  // yargs writes --help and --version output with console.log; keep it out of the test report.
  beforeEach(() => { vi.spyOn(console, 'log').mockImplementation(() => undefined); });
  afterEach(() => { vi.restoreAllMocks(); });

  it('every relative link resolves (files, and headings where a link names one)', () => {
    const broken = pages().flatMap((file) => links(file).map(({ target, line }) => {
      const why = brokenLink(file, target);
      return why === undefined ? undefined : `${rel(file)}:${line}: ${target}: ${why}`;
    })).filter((x): x is string => x !== undefined);
    expect(broken).toEqual([]);
  });

  it('every quoted `usbms ...` command line parses', async () => {
    const quoted = pages().flatMap((file) => quotedCommands(file).map((q) => ({ ...q, file: rel(file) })));
    expect(quoted.length).toBeGreaterThan(20);
    const bad: string[] = [];
    for (const q of quoted) {
      const why = await usageError(q.args);
      if (why !== undefined) bad.push(`${q.file}:${q.line}: ${q.text}: ${why}`);
    }
    expect(bad).toEqual([]);
  });

  it('the checker itself: a wrong option, a missing argument and a word for a number are caught', async () => {
    expect(await usageError(['read', '0', '--mock'])).toBeUndefined();
    expect(await usageError(['read', '--mock'])).toMatch(/Not enough non-option arguments/);
    expect(await usageError(['read', '0', '--frobnicate'])).toMatch(/Unknown argument/);
    expect(await usageError(['tur', '--lun', 'abc'])).toBe("--lun: 'abc' is not a number");
    expect(await usageError(['frobnicate'])).toMatch(/Unknown argument/);
    expect(await usageError(['--help'])).toBeUndefined();
    expect(shellCommands('cat x.img | DEBUG=usbms:* usbms restore --in - --write --partial 2>&1 >log # c'))
      .toEqual([['cat', 'x.img'], ['DEBUG=usbms:*', 'usbms', 'restore', '--in', '-', '--write', '--partial']]);
    expect(usbmsArgs('$ usbms tur -d 0781:5567 || echo "not ready: $?"')).toEqual([['tur', '-d', '0781:5567']]);
  });
});
