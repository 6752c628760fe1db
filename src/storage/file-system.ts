// The file operations the log uses, behind an interface so a test can make the disk fail (EIO,
// ENOSPC) on one partition. Numeric descriptors and positional I/O only: every write says where it
// goes, so nothing depends on a shared file cursor.

import * as fs from 'node:fs';
import { storageLimits } from './limits.js';

export interface FileStat {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

export interface FileSystem {
  open(path: string, flags: string): Promise<number>;
  close(fd: number): Promise<void>;
  /** Reads up to `length` bytes at `position`; returns how many were read (fewer only at end of file). */
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes every byte of `buffers` at `position`, retrying short writes. */
  writeAll(fd: number, buffers: readonly Buffer[], position: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fstat(fd: number): Promise<FileStat>;
  /** null when the path does not exist. */
  stat(path: string): Promise<FileStat | null>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** null when the file does not exist. */
  readFile(path: string): Promise<Buffer | null>;
  /** fsync a directory, so a create, rename or unlink inside it survives a crash. */
  syncDirectory(path: string): Promise<void>;
}

function promise<T>(run: (callback: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

function toStat(stats: fs.Stats): FileStat {
  return { size: stats.size, mtimeMs: stats.mtimeMs, isDirectory: stats.isDirectory() };
}

async function writeAllAt(fd: number, buffers: readonly Buffer[], position: number): Promise<void> {
  let pending = buffers.filter((buffer) => buffer.length > 0);
  let at = position;
  while (pending.length > 0) {
    const slice = pending.slice(0, storageLimits.buffersPerWriteMax);
    const written = await promise<number>((callback) => fs.writev(fd, slice, at, callback));
    at += written;
    // A short write (rare on regular files) leaves the rest for another call.
    let skip = written;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
        skip = 0;
      }
    }
    pending = rest;
  }
}

/** The real file system. */
export const nodeFileSystem: FileSystem = {
  open: (path, flags) => promise<number>((callback) => fs.open(path, flags, 0o644, callback)),
  close: (fd) => promise<void>((callback) => fs.close(fd, (error) => callback(error, undefined))),
  read: (fd, buffer, offset, length, position) =>
    promise<number>((callback) => fs.read(fd, buffer, offset, length, position, callback)),
  writeAll: writeAllAt,
  fdatasync: (fd) => promise<void>((callback) => fs.fdatasync(fd, (error) => callback(error, undefined))),
  fsync: (fd) => promise<void>((callback) => fs.fsync(fd, (error) => callback(error, undefined))),
  ftruncate: (fd, length) =>
    promise<void>((callback) => fs.ftruncate(fd, length, (error) => callback(error, undefined))),
  fstat: (fd) => promise<fs.Stats>((callback) => fs.fstat(fd, callback)).then(toStat),
  stat: (path) =>
    promise<fs.Stats>((callback) => fs.stat(path, callback)).then(toStat, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    }),
  readdir: (path) => promise<string[]>((callback) => fs.readdir(path, callback)),
  mkdir: (path) =>
    promise<string | undefined>((callback) => fs.mkdir(path, { recursive: true }, callback)).then(() => undefined),
  rename: (from, to) => promise<void>((callback) => fs.rename(from, to, (error) => callback(error, undefined))),
  unlink: (path) => promise<void>((callback) => fs.unlink(path, (error) => callback(error, undefined))),
  rmdir: (path) =>
    promise<void>((callback) => fs.rm(path, { recursive: true, force: true }, (error) => callback(error, undefined))),
  readFile: (path) =>
    promise<Buffer>((callback) => fs.readFile(path, callback)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    }),
  async syncDirectory(path) {
    const fd = await promise<number>((callback) => fs.open(path, 'r', callback));
    try {
      await promise<void>((callback) => fs.fsync(fd, (error) => callback(error, undefined)));
    } finally {
      await promise<void>((callback) => fs.close(fd, (error) => callback(error, undefined)));
    }
  },
};

/** Reads exactly `length` bytes at `position`, or fewer only if the file ends first. */
export async function readFully(
  fileSystem: FileSystem,
  fd: number,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const count = await fileSystem.read(fd, buffer, done, length - done, position + done);
    if (count === 0) break;
    done += count;
  }
  return done;
}

/** Writes a small file so that a crash leaves either the old or the new content, never a mix:
 *  write a temporary file, fsync it, rename it over the old one, fsync the directory. */
export async function writeFileAtomically(
  fileSystem: FileSystem,
  directory: string,
  name: string,
  content: Buffer,
): Promise<void> {
  const temporary = `${directory}/${name}.tmp`;
  const fd = await fileSystem.open(temporary, 'w');
  try {
    await fileSystem.writeAll(fd, [content], 0);
    await fileSystem.fsync(fd);
  } finally {
    await fileSystem.close(fd);
  }
  await fileSystem.rename(temporary, `${directory}/${name}`);
  await fileSystem.syncDirectory(directory);
}
