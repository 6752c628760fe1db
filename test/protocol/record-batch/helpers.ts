// Shared helpers for the record-batch tests: a seeded PRNG and kafkajs's own batch encoder.
import { createRequire } from 'node:module';

/** mulberry32: small, fast, good enough for test data. Same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from SLUICE_TEST_SEED (to replay a failure) or a fresh one. */
export function testSeed(): number {
  const fromEnv = process.env['SLUICE_TEST_SEED'];
  return fromEnv !== undefined ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

export function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

/** Runs `body` and, when it throws, says which seed to replay. */
export async function withSeed(seed: number, body: (random: () => number) => void | Promise<void>): Promise<void> {
  try {
    await body(seededRandom(seed));
  } catch (error) {
    console.error(`failed with seed ${seed}; replay with SLUICE_TEST_SEED=${seed}`);
    throw error;
  }
}

const require = createRequire(import.meta.url);

export interface KafkajsRecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string>;
}

export interface KafkajsBatchInput {
  compression?: number;
  firstOffset?: number;
  firstTimestamp?: number;
  maxTimestamp?: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: number;
  producerEpoch?: number;
  firstSequence?: number;
  records: KafkajsRecordInput[];
}

interface KafkajsLong {
  fromNumber(value: number): unknown;
}

/** Encodes a batch with kafkajs's own RecordBatch v2 encoder (kafkajs/src/protocol/recordBatch/v0). */
export async function kafkajsBatch(input: KafkajsBatchInput): Promise<Buffer> {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
    RecordBatch: (options: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
  };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
    options: Record<string, unknown>,
  ) => unknown;
  const Long = require('kafkajs/src/utils/long.js') as KafkajsLong;
  const options: Record<string, unknown> = {
    ...input,
    records: input.records.map((record) => Record({ ...record })),
  };
  if (input.firstOffset !== undefined) options['firstOffset'] = Long.fromNumber(input.firstOffset);
  if (input.producerId !== undefined) options['producerId'] = Long.fromNumber(input.producerId);
  const encoder = await RecordBatch(options);
  return Buffer.from(encoder.buffer);
}

export interface KafkajsDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  isControlRecord: boolean;
}

export interface KafkajsDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  partitionLeaderEpoch: number;
  timestampType: number;
  records: KafkajsDecodedRecord[];
}

/** Decodes one batch with kafkajs's own RecordBatch v2 decoder (gzip is its only built-in codec). */
export async function kafkajsDecode(batch: Buffer): Promise<KafkajsDecodedBatch> {
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
    decoder: unknown,
  ) => Promise<KafkajsDecodedBatch>;
  return decodeBatch(new Decoder(batch));
}
