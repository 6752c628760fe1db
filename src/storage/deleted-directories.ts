// Partition directories of deleted topics, and their removal.
//
// A deleted partition's directory is renamed at once to `<topic>-<partition>.<uuid>-delete`, Kafka's
// name (LocalLog.logDeleteDirName: a random UUID without dashes; the topic cut short so the whole name
// fits the file system's 255 bytes), and the data directory is fsync'ed, so a crash after the rename
// cannot bring the old directory back. A topic of the same name can then be created at once on a
// fresh, empty `<topic>-<partition>`. The renamed directory is removed in the background
// `file.delete.delay.ms` later, as Kafka does, so reads that still hold its files end first.
//
// A `-delete` directory found when the broker starts (it stopped, or was killed, before the removal)
// is removed in the background at once: after a restart nothing reads it. Such a name never ends in
// `-<number>`, so it is never taken for a partition directory (parsePartitionDirectoryName).

import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { readPartitionMetadata } from './checkpoints.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { stderrLogger, type StorageLogger } from './logger.js';
import { parsePartitionDirectoryName } from './segment-files.js';

export const deleteDirectorySuffix = '-delete';
/** Longest file name Linux (and the file systems Sluice runs on) allow, in bytes; topic names are ASCII. */
const FILE_NAME_BYTES_MAX = 255;
/** Kafka's pattern for a directory scheduled for deletion (UnifiedLog.DeleteDirPattern). */
const deleteDirectoryPattern = /^(\S+)-(\S+)\.(\S+)-delete$/;

/** `<topic>-<partition>.<32 hex digits>-delete`, at most 255 bytes (the topic is cut short if need be). */
export function deletedPartitionDirectoryName(topic: string, partition: number): string {
  const suffix = `-${partition}.${randomUUID().replace(/-/g, '')}${deleteDirectorySuffix}`;
  return `${topic.slice(0, Math.max(0, FILE_NAME_BYTES_MAX - suffix.length))}${suffix}`;
}

export function isDeletedPartitionDirectoryName(name: string): boolean {
  return deleteDirectoryPattern.test(name);
}

/** Renames a partition directory for deletion and makes the rename durable; returns the new path.
 *  The log in it must be closed first (PartitionLog.delete does both). */
export async function renameForDeletion(
  fileSystem: FileSystem,
  directory: string,
  topic: string,
  partition: number,
): Promise<string> {
  const parent = dirname(directory);
  const renamed = join(parent, deletedPartitionDirectoryName(topic, partition));
  await fileSystem.rename(directory, renamed);
  await fileSystem.syncDirectory(parent);
  return renamed;
}

/** The `<topic>-<partition>` directories of `topic` in `dataDir` whose `partition.metadata` names
 *  `topicId`: what a deletion interrupted by a crash left under the old name. */
export async function partitionDirectoriesOf(
  fileSystem: FileSystem,
  dataDir: string,
  topic: string,
  topicId: Uint8Array,
): Promise<{ directory: string; partition: number }[]> {
  const found: { directory: string; partition: number }[] = [];
  for (const name of await fileSystem.readdir(dataDir)) {
    const parsed = parsePartitionDirectoryName(name);
    if (parsed === null || parsed.topic !== topic) continue;
    const directory = join(dataDir, name);
    if ((await fileSystem.stat(directory))?.isDirectory !== true) continue;
    const id = await readPartitionMetadata(fileSystem, directory).catch(() => null);
    if (id !== null && id.equals(Buffer.from(topicId))) found.push({ directory, partition: parsed.partition });
  }
  return found;
}

/** Removes `-delete` directories in the background, each after its delay. */
export class DeletedDirectoryRemover {
  /** Removals scheduled or under way; each promise settles when its directory is gone, its removal
   *  failed, or it was cancelled before it started. */
  private readonly pending = new Map<Promise<void>, { timer: NodeJS.Timeout; started: boolean; cancel(): void }>();
  private closed = false;
  private readonly fileSystem: FileSystem;
  private readonly logger: StorageLogger;

  constructor(options: { fileSystem?: FileSystem; logger?: StorageLogger } = {}) {
    this.fileSystem = options.fileSystem ?? nodeFileSystem;
    this.logger = options.logger ?? stderrLogger;
  }

  /** Removes `directory` (and everything in it) `delayMs` from now. */
  removeLater(directory: string, delayMs: number): void {
    if (this.closed) return; // the next start removes it
    let entry!: { timer: NodeJS.Timeout; started: boolean; cancel(): void };
    const removal = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        entry.started = true;
        void this.remove(directory).finally(resolve);
      }, delayMs);
      timer.unref();
      entry = { timer, started: false, cancel: resolve };
    });
    this.pending.set(removal, entry);
    void removal.finally(() => this.pending.delete(removal));
  }

  /** Schedules every `-delete` directory in `dataDir` for removal now; returns how many it found. */
  async removeLeftovers(dataDir: string): Promise<number> {
    const names = (await this.fileSystem.readdir(dataDir)).filter(isDeletedPartitionDirectoryName);
    for (const name of names) this.removeLater(join(dataDir, name), 0);
    return names.length;
  }

  /** Resolves when nothing is scheduled or under way (tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) {
      // The timers do not hold the process open; one waiting for them does.
      for (const entry of this.pending.values()) entry.timer.ref();
      await Promise.all(this.pending.keys());
    }
  }

  /** Cancels the removals still waiting out their delay (the next start removes those directories)
   *  and waits for those under way. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pending];
    for (const [, entry] of all) {
      if (entry.started) continue;
      clearTimeout(entry.timer);
      entry.cancel();
    }
    await Promise.all(all.map(([removal]) => removal));
  }

  private async remove(directory: string): Promise<void> {
    try {
      await this.fileSystem.rmdir(directory);
      this.logger.log('debug', 'deleted-directory-removed', { directory });
    } catch (error) {
      // It stays; the next start tries again.
      this.logger.log('warn', 'deleted-directory-remove-failed', { directory, error: (error as Error).message });
    }
  }
}
