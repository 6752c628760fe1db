// Test helpers: record batches built straight from the RecordBatch v2 layout (docs/record-batch.md)
// with the project's crc32c, temp directories, a seeded random source, and a file system that fails
// on demand.

import assert from 'node:assert/strict';
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlRecordType, encodeControlBatch } from '../../src/protocol/record-batch/control.js';
import { crc32c } from '../../src/protocol/record-batch/crc32c.js';
import { encodeRecordBatchSync } from '../../src/protocol/record-batch/record-encoder.js';
import { nodeFileSystem, type FileSystem } from '../../src/storage/file-system.js';
import type { PartitionLog } from '../../src/storage/log.js';
import type { AbortedTransactionEntry } from '../../src/storage/transaction-index.js';

export interface TestRecord {
  key: Buffer | null;
  value: Buffer | null;
  timestampDelta?: number;
}

function zigzagVarint(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return bytes;
}

function encodeRecord(record: TestRecord, offsetDelta: number): Buffer {
  const body: number[] = [0, ...zigzagVarint(record.timestampDelta ?? 0), ...zigzagVarint(offsetDelta)];
  const parts: Buffer[] = [];
  const pushBytes = (bytes: Buffer | null) => {
    body.push(...zigzagVarint(bytes === null ? -1 : bytes.length));
    parts.push(Buffer.from(body.splice(0)));
    if (bytes !== null) parts.push(bytes);
  };
  pushBytes(record.key);
  pushBytes(record.value);
  body.push(...zigzagVarint(0));
  parts.push(Buffer.from(body));
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(zigzagVarint(content.length)), content]);
}

export interface BatchOptions {
  baseTimestamp?: number;
  maxTimestamp?: number;
  producerId?: number;
  attributes?: number;
}

/** An uncompressed RecordBatch v2 with a valid CRC and baseOffset 0, as a producer sends it. */
export function makeBatch(records: readonly TestRecord[], options: BatchOptions = {}): Buffer {
  const encoded = records.map((record, index) => encodeRecord(record, index));
  const header = Buffer.alloc(61);
  const total = 61 + encoded.reduce((sum, record) => sum + record.length, 0);
  const baseTimestamp = options.baseTimestamp ?? 1_700_000_000_000;
  const maxTimestamp =
    options.maxTimestamp ?? baseTimestamp + Math.max(0, ...records.map((record) => record.timestampDelta ?? 0));
  header.writeBigInt64BE(0n, 0);
  header.writeInt32BE(total - 12, 8);
  header.writeInt32BE(-1, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE(options.attributes ?? 0, 21);
  header.writeInt32BE(records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(maxTimestamp), 35);
  header.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, ...encoded]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

/** A batch of `count` records whose values are `valueBytes` bytes of a pattern from `seed`. */
export function makeValueBatch(count: number, valueBytes: number, seed = 0, options: BatchOptions = {}): Buffer {
  const records: TestRecord[] = [];
  for (let index = 0; index < count; index += 1) {
    const value = Buffer.alloc(valueBytes);
    for (let at = 0; at < valueBytes; at += 1) value[at] = (seed * 31 + index * 7 + at) & 0xff;
    records.push({ key: null, value });
  }
  return makeBatch(records, options);
}

/** Splits a buffer of back-to-back batches into [baseOffset, batch] pairs. */
export function splitBatches(buffer: Buffer): { baseOffset: number; lastOffset: number; bytes: Buffer }[] {
  const batches: { baseOffset: number; lastOffset: number; bytes: Buffer }[] = [];
  let at = 0;
  while (at + 12 <= buffer.length) {
    const total = buffer.readInt32BE(at + 8) + 12;
    if (at + total > buffer.length) break;
    const baseOffset = Number(buffer.readBigInt64BE(at));
    batches.push({
      baseOffset,
      lastOffset: baseOffset + buffer.readInt32BE(at + 23),
      bytes: buffer.subarray(at, at + total),
    });
    at += total;
  }
  return batches;
}

export function temporaryDirectory(prefix = 'sluice-storage-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * For a test file: a function giving a fresh partition directory (`<new temp dir>/<name>`) on each
 * call; every one is removed after the file's tests.
 */
export function partitionDirectories(defaultName = 'p-0'): (name?: string) => string {
  const made: Array<{ remove: () => void }> = [];
  after(() => made.forEach((directory) => directory.remove()));
  return (name = defaultName) => {
    const directory = temporaryDirectory();
    made.push(directory);
    return `${directory.path}/${name}`;
  };
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): { next: () => number; integer: (below: number) => number } {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  return { next, integer: (below) => Math.floor(next() * below) };
}

/** The real file system, except that the operations named in `failing` throw `code` while armed. */
export function failingFileSystem(code = 'EIO'): {
  fileSystem: FileSystem;
  arm: (operations: (keyof FileSystem)[]) => void;
  disarm: () => void;
} {
  let failing = new Set<string>();
  const fileSystem = Object.fromEntries(
    Object.entries(nodeFileSystem).map(([name, operation]) => [
      name,
      (...args: unknown[]) => {
        if (failing.has(name)) {
          const error = new Error(`${code}: injected failure in ${name}`) as NodeJS.ErrnoException;
          error.code = code;
          return Promise.reject(error);
        }
        return (operation as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FileSystem;
  return {
    fileSystem,
    arm: (operations) => (failing = new Set(operations)),
    disarm: () => (failing = new Set()),
  };
}

/** A transactional data batch of `count` records (optionally keyed) of producer `producerId`. */
export function makeTransactionalBatch(
  producerId: number,
  count = 1,
  key: (index: number) => Buffer | null = () => null,
): Buffer {
  return encodeRecordBatchSync({
    baseOffset: 0,
    producerId,
    producerEpoch: 0,
    baseSequence: 0,
    transactional: true,
    records: Array.from({ length: count }, (_, index) => ({ key: key(index), value: Buffer.from(`value ${index}`) })),
  });
}

/** A transaction marker (control batch) of producer `producerId`. */
export function makeMarker(producerId: number, abort: boolean): Buffer {
  return encodeControlBatch({
    producerId,
    producerEpoch: 0,
    coordinatorEpoch: 0,
    type: abort ? ControlRecordType.Abort : ControlRecordType.Commit,
  });
}

/**
 * Appends one transaction of `producerId`: its data batches, then its marker; an abort is handed to
 * the log's aborted-transaction index as the broker does. Returns the index entry (null for a commit).
 */
export async function appendTransaction(
  log: PartitionLog,
  producerId: number,
  batches: Buffer[],
  abort: boolean,
): Promise<AbortedTransactionEntry | null> {
  let firstOffset = -1;
  for (const batch of batches) {
    const { baseOffset } = await log.append(batch);
    if (firstOffset < 0) firstOffset = baseOffset;
  }
  const { baseOffset: lastOffset } = await log.append(makeMarker(producerId, abort));
  if (!abort) return null;
  const entry = { producerId, firstOffset, lastOffset, lastStableOffset: lastOffset + 1 };
  assert.equal(log.appendAbortedTransaction(entry), true);
  return entry;
}
