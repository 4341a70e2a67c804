/**
 * Reading the mapfile, and saving it so that a crash at any instant leaves either the old or the new one whole:
 * write a temporary file beside it, fsync it, rename it over the old one, fsync the directory (the rename itself
 * must reach the disk, or a power cut can bring back the old name).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseMapfile, type ParsedMapfile } from './mapfile.js';

/** The parsed mapfile at `path`, or undefined when there is none yet (a new rescue). */
export function loadMapfile(path: string): ParsedMapfile | undefined {
  if (!existsSync(path)) return undefined;
  return parseMapfile(readFileSync(path, 'utf8'));
}

export function saveMapfileAtomic(path: string, text: string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone: nothing to clean */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  syncDirectory(dir);
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems (and Windows) refuse fsync on a directory; the rename is then as durable as they allow.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
