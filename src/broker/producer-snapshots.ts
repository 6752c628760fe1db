// The producer-state snapshot files (producer-state.ts keeps the state; this file only the files):
// `<20-digit offset>.snapshot` in the partition directory, text, two lines —
//
//   sluice-producer-snapshot 1 <crc32c of line 2, 8 hex digits>
//   {"offset":N,"producers":[[producerId, epoch, lastActivityMs, transactionFirstOffset,
//                             [[baseSequence, lastSequence, baseOffset, lastOffset, maxTimestamp], …]], …]}
//
// Producers are listed least recently used first, batches oldest first; transactionFirstOffset is −1
// when no transaction is open. A file whose first line (magic, version, checksum) does not check out
// is a SnapshotFormatError here; the body's fields are checked where they are loaded.
import { crc32c } from '../protocol/record-batch/crc32c.js';
import { listDirectory } from '../storage/durable-files.js';

export const SNAPSHOT_SUFFIX = '.snapshot';
const SNAPSHOT_MAGIC = 'sluice-producer-snapshot';
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_NAME = /^(\d{20})\.snapshot$/;

export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
}

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${SNAPSHOT_SUFFIX}`;
}

/** The snapshot files of `directory`, oldest first. */
export async function listSnapshots(directory: string): Promise<{ name: string; offset: number }[]> {
  const found: { name: string; offset: number }[] = [];
  for (const name of await listDirectory(directory)) {
    const match = SNAPSHOT_NAME.exec(name);
    if (match === null) continue;
    const offset = Number(match[1]);
    if (Number.isSafeInteger(offset)) found.push({ name, offset });
  }
  return found.sort((left, right) => left.offset - right.offset);
}

/** A snapshot file's content around its JSON body (line 2). */
export function snapshotContent(body: string): string {
  return `${SNAPSHOT_MAGIC} ${SNAPSHOT_VERSION} ${hex32(crc32c(Buffer.from(body, 'utf8')))}\n${body}\n`;
}

/** The JSON body of a snapshot file, parsed, once its first line checked out. */
export function snapshotBody(text: string): unknown {
  const newline = text.indexOf('\n');
  if (newline < 0) throw new SnapshotFormatError('no header line');
  const [magic, version, checksum, ...rest] = text.slice(0, newline).split(' ');
  if (magic !== SNAPSHOT_MAGIC || rest.length > 0) throw new SnapshotFormatError('not a producer snapshot');
  if (version !== String(SNAPSHOT_VERSION)) throw new SnapshotFormatError(`unknown version ${version}`);
  const body = text.slice(newline + 1).replace(/\n$/, '');
  const computed = hex32(crc32c(Buffer.from(body, 'utf8')));
  if (checksum !== computed) throw new SnapshotFormatError(`checksum ${checksum}, computed ${computed}`);
  try {
    return JSON.parse(body);
  } catch {
    throw new SnapshotFormatError('body is not JSON');
  }
}

/** A safe integer within [minimum, maximum]: the check of every snapshot field. */
export function isInteger(
  value: unknown,
  minimum = Number.MIN_SAFE_INTEGER,
  maximum = Number.MAX_SAFE_INTEGER,
): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum && value <= maximum;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
