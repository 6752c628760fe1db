// Writing a segment's index files: the `.index` and `.timeindex` (what changed since the last write,
// fsync'ed when asked: at each recovery-point checkpoint, before it is written, and at roll) and the
// `.txnindex` (appended as entries come, replaced atomically by recovery and its completion, cut by
// truncation). One write at a time per segment, so the files never see two writers. The segment
// (segment.ts) owns one and hands itself over as IndexedFiles; this file does not import it.

import { invariant } from './errors.js';
import type { FileSystem } from './file-system.js';
import type { OffsetIndex } from './offset-index.js';
import { temporarySuffix } from './segment-files.js';
import type { TimeIndex } from './time-index.js';
import {
  encodeTransactionIndexEntries,
  transactionIndexEntryBytes,
  type AbortedTransactionEntry,
  type TransactionIndex,
} from './transaction-index.js';

/** What the writer needs of its segment. */
export interface IndexedFiles {
  readonly directory: string;
  readonly offsetIndexPath: string;
  readonly timeIndexPath: string;
  readonly transactionIndexPath: string;
  readonly transactionIndex: TransactionIndex;
  /** Removed from its log: its file names may already belong to a successor, so nothing is written. */
  readonly isRetired: boolean;
  /** The offset and time indexes, or null while they are unloaded (nothing of theirs is pending then). */
  loadedIndexes(): { offsetIndex: OffsetIndex; timeIndex: TimeIndex } | null;
}

/** Opens `path` for positional writes, creating it if needed. Not 'a': with O_APPEND, Linux ignores
 *  the position of a positional write. */
function openForWriting(fileSystem: FileSystem, path: string): Promise<number> {
  return fileSystem.open(path, 'r+').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return fileSystem.open(path, 'w+');
    throw error;
  });
}

export class SegmentIndexWriter {
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly fileSystem: FileSystem,
    private readonly files: IndexedFiles,
  ) {}

  /** Runs `write` after the writes before it. */
  private serialized(write: () => Promise<void>): Promise<void> {
    this.writes = this.writes.then(write, write);
    return this.writes;
  }

  /** Resolves once the writes under way have ended, however they ended. */
  settled(): Promise<void> {
    return this.writes.catch(() => undefined);
  }

  /** Writes index changes to their files (and fsyncs them if `sync`). */
  persistIndexes(sync: boolean): Promise<void> {
    return this.serialized(async () => {
      const { fileSystem, files } = this;
      if (files.isRetired) return; // the files are not ours any more
      await this.writeTransactionIndex(sync);
      const loaded = files.loadedIndexes();
      if (loaded === null) return; // nothing pending
      for (const [index, path] of [
        [loaded.offsetIndex, files.offsetIndexPath],
        [loaded.timeIndex, files.timeIndexPath],
      ] as const) {
        const pending = index.pendingWrite();
        if (pending === null && !sync) continue;
        const fd = await openForWriting(fileSystem, path);
        try {
          if (pending !== null) {
            await fileSystem.writeAll(fd, [pending.bytes], pending.position);
            if (pending.truncate || (await fileSystem.fstat(fd)).size !== pending.fileBytes)
              await fileSystem.ftruncate(fd, pending.fileBytes);
          }
          if (sync) await fileSystem.fsync(fd);
        } finally {
          await fileSystem.close(fd);
        }
        if (pending !== null) index.markPersisted(pending.entries);
      }
    });
  }

  /** Writes the `.txnindex` entries appended since the last write now (page cache), without waiting
   *  for the next checkpoint: a process crash then loses none. */
  persistTransactionIndex(): Promise<void> {
    return this.serialized(async () => {
      if (!this.files.isRetired) await this.writeTransactionIndex(false);
    });
  }

  /** Appends the pending `.txnindex` entries (creating the file if needed); fsyncs if `sync` and
   *  anything was written since the last fsync. */
  private async writeTransactionIndex(sync: boolean): Promise<void> {
    const { fileSystem, files } = this;
    const index = files.transactionIndex;
    if (!index.needsWrite() && !(sync && index.unsynced)) return;
    const fd = await openForWriting(fileSystem, files.transactionIndexPath);
    if (!index.fileExists) index.directoryUnsynced = true;
    const created = !index.fileExists;
    try {
      const pending = index.pending.slice();
      if (pending.length > 0 || created) {
        // Entries go after the whole entries already there (a sealed segment's count is learned from the size).
        const fileBytes = (await fileSystem.fstat(fd)).size;
        const entries = index.fileEntries >= 0 ? index.fileEntries : Math.floor(fileBytes / transactionIndexEntryBytes);
        const position = entries * transactionIndexEntryBytes;
        await fileSystem.writeAll(fd, [encodeTransactionIndexEntries(pending)], position);
        const end = position + pending.length * transactionIndexEntryBytes;
        if (fileBytes > end) await fileSystem.ftruncate(fd, end);
        index.fileEntries = entries + pending.length;
        index.pending = index.pending.slice(pending.length);
        index.fileExists = true;
        index.unsynced = true;
      }
      if (sync) {
        await fileSystem.fsync(fd);
        index.unsynced = false;
      }
    } finally {
      await fileSystem.close(fd);
    }
    if (sync && index.directoryUnsynced) {
      await fileSystem.syncDirectory(files.directory);
      index.directoryUnsynced = false;
    }
  }

  /** The entries in the `.txnindex` file now (written ones only), or null when there is none. */
  async readTransactionIndexFile(): Promise<Buffer | null> {
    await this.settled();
    return this.fileSystem.readFile(this.files.transactionIndexPath);
  }

  /** Replaces the `.txnindex` with exactly `entries`, atomically (temporary file, fsync, rename,
   *  fsync directory): a crash leaves either the old file or the new one. */
  replaceTransactionIndex(entries: readonly AbortedTransactionEntry[]): Promise<void> {
    return this.serialized(async () => {
      const { fileSystem, files } = this;
      if (files.isRetired) return;
      invariant(files.transactionIndex.pending.length === 0, 'transaction index replaced while entries are pending');
      const temporary = `${files.transactionIndexPath}${temporarySuffix}`;
      const fd = await fileSystem.open(temporary, 'w');
      try {
        await fileSystem.writeAll(fd, [encodeTransactionIndexEntries(entries)], 0);
        await fileSystem.fsync(fd);
      } finally {
        await fileSystem.close(fd);
      }
      await fileSystem.rename(temporary, files.transactionIndexPath);
      await fileSystem.syncDirectory(files.directory);
      files.transactionIndex.replaced(entries);
    });
  }

  /** Drops the `.txnindex` entries whose marker is at or after `endOffset` (truncation). */
  async truncateTransactionIndex(endOffset: number): Promise<void> {
    const { fileSystem, files } = this;
    const index = files.transactionIndex;
    index.pending = index.pending.filter((entry) => entry.lastOffset < endOffset);
    const content = await this.readTransactionIndexFile();
    if (content === null) return;
    const markerOffsetAt = (entry: number) => Number(content.readBigInt64BE(entry * transactionIndexEntryBytes + 18));
    let keep = 0;
    while ((keep + 1) * transactionIndexEntryBytes <= content.length && markerOffsetAt(keep) < endOffset) keep += 1;
    if (keep * transactionIndexEntryBytes < content.length) {
      const fd = await fileSystem.open(files.transactionIndexPath, 'r+');
      try {
        await fileSystem.ftruncate(fd, keep * transactionIndexEntryBytes);
        await fileSystem.fsync(fd);
      } finally {
        await fileSystem.close(fd);
      }
    }
    index.fileEntries = keep;
    index.lastOffset = index.pending.at(-1)?.lastOffset ?? (keep === 0 ? -1 : markerOffsetAt(keep - 1));
  }
}
