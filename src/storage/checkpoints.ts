// Small per-partition files, in Kafka's text checkpoint format so operators recognise them:
//
//   line 1: format version (0)
//   line 2: number of entries
//   then one entry per line, fields separated by a space
//
//   recovery-point-offset-checkpoint   "<topic> <partition> <offset>": every byte below this offset
//                                      was fdatasync'ed with its indexes; recovery scans from here.
//   log-start-offset-checkpoint        "<topic> <partition> <offset>": the first offset still served
//                                      (moved by retention and DeleteRecords).
//   leader-epoch-checkpoint            "<epoch> <start offset>" per epoch (single node: "0 0").
//   partition.metadata                 "version: 0" and "topic_id: <base64url uuid>", written once.
//
// Kafka keeps the first two per log directory; Sluice keeps them per partition so a partition
// directory is self-contained and partitions checkpoint independently. Every write is atomic
// (temporary file, fsync, rename, fsync directory).

import { StorageError, invariant } from './errors.js';
import { writeFileAtomically, type FileSystem } from './file-system.js';

export const recoveryPointFileName = 'recovery-point-offset-checkpoint';
export const logStartOffsetFileName = 'log-start-offset-checkpoint';
export const leaderEpochFileName = 'leader-epoch-checkpoint';
export const partitionMetadataFileName = 'partition.metadata';

const checkpointVersion = 0;

export class CheckpointFormatError extends Error {
  constructor(file: string, detail: string) {
    super(`malformed checkpoint ${file}: ${detail}`);
    this.name = 'CheckpointFormatError';
  }
}

function formatCheckpoint(lines: string[]): Buffer {
  return Buffer.from(`${checkpointVersion}\n${lines.length}\n${lines.map((line) => `${line}\n`).join('')}`);
}

function parseCheckpoint(file: string, content: string): string[][] {
  const lines = content.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== String(checkpointVersion)) throw new CheckpointFormatError(file, `unknown version "${lines[0]}"`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) {
    throw new CheckpointFormatError(file, `entry count "${lines[1]}" does not match ${lines.length - 2} lines`);
  }
  return lines.slice(2).map((line) => line.trim().split(/\s+/));
}

function parseOffset(file: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 0)
    throw new CheckpointFormatError(file, `bad offset "${text}"`);
  return value;
}

export interface PartitionName {
  topic: string;
  partition: number;
}

/** Reads an offset checkpoint; null when the file does not exist. */
export async function readOffsetCheckpoint(
  fileSystem: FileSystem,
  directory: string,
  name: string,
): Promise<number | null> {
  const content = await fileSystem.readFile(`${directory}/${name}`);
  if (content === null) return null;
  const entries = parseCheckpoint(name, content.toString('utf8'));
  if (entries.length !== 1) throw new CheckpointFormatError(name, `expected one entry, found ${entries.length}`);
  return parseOffset(name, entries[0]?.[2]);
}

export async function writeOffsetCheckpoint(
  fileSystem: FileSystem,
  directory: string,
  name: string,
  partition: PartitionName,
  offset: number,
): Promise<void> {
  await writeFileAtomically(
    fileSystem,
    directory,
    name,
    formatCheckpoint([`${partition.topic} ${partition.partition} ${offset}`]),
  );
}

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export async function readLeaderEpochs(fileSystem: FileSystem, directory: string): Promise<EpochEntry[] | null> {
  const content = await fileSystem.readFile(`${directory}/${leaderEpochFileName}`);
  if (content === null) return null;
  return parseCheckpoint(leaderEpochFileName, content.toString('utf8')).map(([epoch, offset]) => {
    const value = Number(epoch);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new CheckpointFormatError(leaderEpochFileName, `bad epoch "${epoch}"`);
    return { epoch: value, startOffset: parseOffset(leaderEpochFileName, offset) };
  });
}

export async function writeLeaderEpochs(
  fileSystem: FileSystem,
  directory: string,
  entries: readonly EpochEntry[],
): Promise<void> {
  await writeFileAtomically(
    fileSystem,
    directory,
    leaderEpochFileName,
    formatCheckpoint(entries.map((entry) => `${entry.epoch} ${entry.startOffset}`)),
  );
}

/**
 * The leader-epoch cache: which epoch's leader wrote which offsets. A single node only ever has
 * epoch 0 starting at the log start; the truncations keep it right once replication arrives.
 */
export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[]) {
    this.entries = [...entries];
  }

  list(): readonly EpochEntry[] {
    return this.entries;
  }

  latestEpoch(): number | undefined {
    return this.entries.at(-1)?.epoch;
  }

  /** Records that `epoch` starts at `startOffset`; returns whether anything changed. */
  assign(epoch: number, startOffset: number): boolean {
    const last = this.entries.at(-1);
    if (last !== undefined && last.epoch >= epoch) return false;
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /**
   * Replication: the entries that start at or after `offset` (the log end: no batch backs them, e.g.
   * one recorded when this replica last became leader and wrote nothing) give way to `entries`, the
   * epochs of the leader's batches appended from `offset` on (each newer than the one before it).
   * Returns whether anything changed. The cache is never left empty.
   */
  replaceFrom(offset: number, entries: readonly EpochEntry[]): boolean {
    let keep = this.entries.length;
    while (keep > 0 && this.entries[keep - 1]!.startOffset >= offset) keep -= 1;
    const removed = this.entries.slice(keep);
    const same =
      removed.length === entries.length &&
      removed.every((entry, i) => entry.epoch === entries[i]!.epoch && entry.startOffset === entries[i]!.startOffset);
    if (same) return false;
    const next = [...this.entries.slice(0, keep), ...entries.map((entry) => ({ ...entry }))];
    invariant(next.length > 0, 'leader-epoch cache left empty');
    for (let i = 1; i < next.length; i++) {
      invariant(
        next[i]!.epoch > next[i - 1]!.epoch && next[i]!.startOffset >= next[i - 1]!.startOffset,
        () => `leader epoch ${next[i]!.epoch} at ${next[i]!.startOffset} after ${next[i - 1]!.epoch}`,
      );
    }
    this.entries = next;
    return true;
  }

  /** After truncating the log to `endOffset`, epochs that start at or after it are gone. */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((entry) => entry.startOffset < endOffset || entry === this.entries[0]);
    const first = this.entries[0];
    if (first !== undefined && first.startOffset > endOffset) first.startOffset = endOffset;
    return this.entries.length !== before;
  }

  /** After the log start moved to `startOffset`, the first epoch kept starts there. */
  truncateFromStart(startOffset: number): boolean {
    let changed = false;
    while (this.entries.length > 1 && (this.entries[1]?.startOffset ?? Infinity) <= startOffset) {
      this.entries.shift();
      changed = true;
    }
    const first = this.entries[0];
    if (first !== undefined && first.startOffset < startOffset) {
      first.startOffset = startOffset;
      changed = true;
    }
    return changed;
  }
}

/** Kafka prints a topic id as URL-safe base64 without padding. */
export function formatTopicId(topicId: Uint8Array): string {
  if (topicId.length !== 16) throw new StorageError('INVALID_CONFIG', `a topic id has 16 bytes, got ${topicId.length}`);
  return Buffer.from(topicId).toString('base64url');
}

export function parseTopicId(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== 16 || bytes.toString('base64url') !== text)
    throw new CheckpointFormatError(partitionMetadataFileName, `bad topic id "${text}"`);
  return bytes;
}

export async function readPartitionMetadata(fileSystem: FileSystem, directory: string): Promise<Buffer | null> {
  const content = await fileSystem.readFile(`${directory}/${partitionMetadataFileName}`);
  if (content === null) return null;
  const fields = new Map(
    content
      .toString('utf8')
      .split('\n')
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')).trim(), line.slice(line.indexOf(':') + 1).trim()] as const),
  );
  if (fields.get('version') !== '0')
    throw new CheckpointFormatError(partitionMetadataFileName, `unknown version "${fields.get('version')}"`);
  return parseTopicId(fields.get('topic_id') ?? '');
}

/** Creates the partition metadata file, or checks that the one on disk names the same topic id. */
export async function ensurePartitionMetadata(
  fileSystem: FileSystem,
  directory: string,
  topicId: Uint8Array | undefined,
): Promise<Buffer | null> {
  const existing = await readPartitionMetadata(fileSystem, directory);
  if (existing !== null) {
    if (topicId !== undefined && !existing.equals(Buffer.from(topicId))) {
      throw new StorageError(
        'INCONSISTENT_TOPIC_ID',
        `${directory} holds topic id ${formatTopicId(existing)}, not ${formatTopicId(topicId)}`,
      );
    }
    return existing;
  }
  if (topicId === undefined) return null;
  await writeFileAtomically(
    fileSystem,
    directory,
    partitionMetadataFileName,
    Buffer.from(`version: 0\ntopic_id: ${formatTopicId(topicId)}\n`),
  );
  return Buffer.from(topicId);
}
