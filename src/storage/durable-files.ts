// The broker's small files outside the partition logs — meta.properties, .lock, topics.json,
// producer-ids.properties, producer-state snapshots, the `transactions` marker — go through here, so
// that storage owns every durable write of the broker (DESIGN.md) and none of them blocks the event
// loop: every operation is asynchronous, fsync included.
//
// A durable write is the one recipe of file-system.ts (writeFileAtomically: temporary file, fsync,
// rename, fsync the directory), so a crash leaves the old content or the new, never a mix. Writes to
// the same path run one after the other in call order: two of them would otherwise share the one
// temporary file, and the older could land last.
import { mkdtemp } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { nodeFileSystem, writeFileAtomically, type FileSystem } from './file-system.js';

/** Writes still under way, by path; an entry leaves when its last write settles. */
const writesByPath = new Map<string, Promise<void>>();

/**
 * Replaces the file at `path` with `content` durably; resolves once the content and the rename are on
 * disk. Writes to one path are applied in call order.
 */
export function writeFileDurably(
  path: string,
  content: string | Buffer,
  fileSystem: FileSystem = nodeFileSystem,
): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const before = writesByPath.get(path);
  const write = () => writeFileAtomically(fileSystem, dirname(path), basename(path), bytes);
  // The one before may have failed; that is its caller's to hear, and this write goes ahead.
  const written = before === undefined ? write() : before.then(write, write);
  const settled = written.then(
    () => undefined,
    () => undefined,
  );
  writesByPath.set(path, settled);
  void settled.then(() => {
    if (writesByPath.get(path) === settled) writesByPath.delete(path);
  });
  return written;
}

/** The file's bytes, or null when it does not exist. */
export function readFileIfExists(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<Buffer | null> {
  return fileSystem.readFile(path);
}

/** The file's text (UTF-8), or null when it does not exist. */
export async function readTextIfExists(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<string | null> {
  const bytes = await fileSystem.readFile(path);
  return bytes === null ? null : bytes.toString('utf8');
}

export async function pathExists(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<boolean> {
  return (await fileSystem.stat(path)) !== null;
}

/** The names in a directory (not sorted). */
export function listDirectory(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<string[]> {
  return fileSystem.readdir(path);
}

/** Makes the directory and any missing parents; nothing if it exists. */
export function makeDirectory(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<void> {
  return fileSystem.mkdir(path);
}

/** A new, empty directory whose name starts with `prefix` (a path) and ends with random characters. */
export function makeTempDirectory(prefix: string): Promise<string> {
  return mkdtemp(prefix);
}

/** Removes a file; nothing if it is already gone. */
export async function removeFile(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<void> {
  try {
    await fileSystem.unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Removes a directory with everything in it; nothing if it is already gone. */
export function removeDirectory(path: string, fileSystem: FileSystem = nodeFileSystem): Promise<void> {
  return fileSystem.rmdir(path);
}

/**
 * Creates the file at `path` with `content` only if no file is there (O_EXCL): true when this call made
 * it, false when it existed. Not fsynced — for lock files, which say who runs now, not what survives.
 */
export async function createFileExclusively(
  path: string,
  content: string,
  fileSystem: FileSystem = nodeFileSystem,
): Promise<boolean> {
  let fd: number;
  try {
    fd = await fileSystem.open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await fileSystem.writeAll(fd, [Buffer.from(content, 'utf8')], 0);
  } finally {
    await fileSystem.close(fd);
  }
  return true;
}
