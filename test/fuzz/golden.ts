// Data written before the fuzz run and read back after it, byte for byte: one partition per codec
// (none, gzip, snappy, lz4, zstd; keys and headers; an idempotent producer), committed and aborted
// transactions with plain batches between them, and a compacted topic with repeated keys and
// tombstones. kafkajs writes it (a real client: its batches are what the broker stores), with our
// codecs plugged in for the ones kafkajs does not ship.
//
// The snapshot is what a read_committed Fetch v11 from offset 0 serves for each partition: the raw
// record-batch bytes (baseOffset, partitionLeaderEpoch, CRC and all), the high watermark, last stable
// offset, log start offset and the aborted-transaction list. Compaction only rewrites sealed segments;
// these partitions stay in their first segment, so a correct broker serves the same bytes forever.
import kafkajs from 'kafkajs';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { compressSync, decompressSync } from '../../src/protocol/record-batch/compression.js';
import { Compression } from '../../src/protocol/record-batch/header.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { RawClient } from '../support/raw-client.js';
import { GOLDEN_TOPICS, GOLDEN_TRANSACTIONAL_ID } from './vocabulary.js';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs;

for (const [type, codec] of [
  [CompressionTypes.Snappy, Compression.Snappy],
  [CompressionTypes.LZ4, Compression.Lz4],
  [CompressionTypes.ZSTD, Compression.Zstd],
] as const) {
  (CompressionCodecs as Record<number, unknown>)[type] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compressSync(codec, encoder.buffer),
    decompress: async (buffer: Buffer) => decompressSync(codec, buffer, 64 * 1024 * 1024),
  });
}

export const GOLDEN_LAYOUT: ReadonlyArray<{ topic: string; partitions: number; configs?: Record<string, string> }> = [
  { topic: GOLDEN_TOPICS.codecs, partitions: 5 },
  { topic: GOLDEN_TOPICS.transactions, partitions: 2 },
  { topic: GOLDEN_TOPICS.compacted, partitions: 2, configs: { 'cleanup.policy': 'compact' } },
];

const CODEC_BY_PARTITION = [
  CompressionTypes.None,
  CompressionTypes.GZIP,
  CompressionTypes.Snappy,
  CompressionTypes.LZ4,
  CompressionTypes.ZSTD,
];

function payload(label: string, i: number): string {
  // Mixed sizes, some compressible runs, so every codec has real work.
  return `${label}-${i}-${'abcdefgh'.repeat(i % 7 === 0 ? 200 : i % 5)}`;
}

/** Produces the golden data; resolves once every transaction is decided. */
export async function writeGolden(bootstrap: string): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'fuzz-golden', logLevel: logLevel.NOTHING });
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const transactional = kafka.producer({
    transactionalId: GOLDEN_TRANSACTIONAL_ID,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await plain.connect();
  await transactional.connect();
  try {
    for (let partition = 0; partition < CODEC_BY_PARTITION.length; partition++) {
      for (let round = 0; round < 3; round++) {
        await plain.send({
          topic: GOLDEN_TOPICS.codecs,
          compression: CODEC_BY_PARTITION[partition],
          messages: Array.from({ length: 20 }, (_, i) => ({
            partition,
            key: `key-${i % 6}`,
            value: payload(`codec${partition}-round${round}`, i),
            headers: { trace: `t-${round}-${i}`, empty: '' },
          })),
        });
      }
    }
    const txn = GOLDEN_TOPICS.transactions;
    const messages = (label: string, count: number) =>
      [0, 1].map((partition) => ({
        topic: txn,
        messages: Array.from({ length: count }, (_, i) => ({ partition, key: `t${i}`, value: payload(label, i) })),
      }));
    for (const [label, decision, compression] of [
      ['committed-a', 'commit', CompressionTypes.None],
      ['aborted-b', 'abort', CompressionTypes.None],
      ['committed-c', 'commit', CompressionTypes.GZIP],
      ['aborted-d', 'abort', CompressionTypes.ZSTD],
    ] as const) {
      const transaction = await transactional.transaction();
      await transaction.sendBatch({ topicMessages: messages(label, 8), compression });
      if (decision === 'commit') await transaction.commit();
      else await transaction.abort();
      await plain.sendBatch({ topicMessages: messages(`plain-after-${label}`, 3) });
    }
    for (let round = 0; round < 5; round++) {
      await plain.send({
        topic: GOLDEN_TOPICS.compacted,
        compression: round % 2 === 0 ? CompressionTypes.None : CompressionTypes.LZ4,
        messages: Array.from({ length: 10 }, (_, i) => ({
          partition: i % 2,
          key: `k${i}`,
          value: round === 4 && i < 3 ? null : payload(`compact-round${round}`, i),
        })),
      });
    }
  } finally {
    await plain.disconnect();
    await transactional.disconnect();
  }
}

export interface PartitionSnapshot {
  records: Buffer;
  batches: number;
  recordCount: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: string;
}

/** Complete batches at the front of `records`, and the offset after the last of them. */
function completeBatches(records: Buffer): { bytes: number; batches: number; next: bigint | null } {
  let at = 0;
  let batches = 0;
  let next: bigint | null = null;
  while (records.length - at >= 61) {
    const total = records.readInt32BE(at + 8) + 12;
    if (at + total > records.length) break;
    next = records.readBigInt64BE(at) + BigInt(records.readInt32BE(at + 23)) + 1n;
    at += total;
    batches++;
  }
  return { bytes: at, batches, next };
}

/** What a read_committed fetch from offset 0 serves for every golden partition. */
export async function snapshotGolden(port: number): Promise<Map<string, PartitionSnapshot>> {
  const client = await RawClient.connect(port);
  const out = new Map<string, PartitionSnapshot>();
  let correlationId = 0;
  try {
    for (const { topic, partitions } of GOLDEN_LAYOUT) {
      for (let partition = 0; partition < partitions; partition++) {
        const parts: Buffer[] = [];
        let offset = 0n;
        let batches = 0;
        let last: any;
        for (;;) {
          const id = correlationId++;
          client.request(ApiKey.Fetch, 11, id, {
            replicaId: -1,
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 64 * 1024 * 1024,
            isolationLevel: 1,
            topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 32 * 1024 * 1024 }] }],
          });
          const frames = await client.waitForFrames(id + 1, 10_000);
          if (frames.length <= id) throw new Error(`no answer to the fetch of ${topic}-${partition} at ${offset}`);
          last = RawClient.decode(ApiKey.Fetch, 11, frames[id]!).body.responses[0].partitions[0];
          if (last.errorCode !== 0)
            throw new Error(`fetch of ${topic}-${partition} at ${offset}: error ${last.errorCode}`);
          const records: Buffer = last.records ?? Buffer.alloc(0);
          const complete = completeBatches(records);
          if (complete.batches === 0) break;
          parts.push(Buffer.from(records.subarray(0, complete.bytes)));
          batches += complete.batches;
          offset = complete.next!;
          if (offset >= last.lastStableOffset) break;
        }
        const records = Buffer.concat(parts);
        const decoded = await decodeRecordBatches(records);
        out.set(`${topic}-${partition}`, {
          records,
          batches,
          recordCount: decoded.reduce((sum, b) => sum + (b.isControl ? 0 : b.records.length), 0),
          highWatermark: last.highWatermark,
          lastStableOffset: last.lastStableOffset,
          logStartOffset: last.logStartOffset,
          abortedTransactions: JSON.stringify(last.abortedTransactions, (_, v) =>
            typeof v === 'bigint' ? v.toString() : v,
          ),
        });
      }
    }
  } finally {
    client.close();
  }
  return out;
}

/** The differences between two snapshots, one line each (empty when identical). */
export function compareGolden(
  before: ReadonlyMap<string, PartitionSnapshot>,
  after: ReadonlyMap<string, PartitionSnapshot>,
): string[] {
  const problems: string[] = [];
  for (const [name, a] of before) {
    const b = after.get(name);
    if (!b) {
      problems.push(`${name}: missing after the run`);
      continue;
    }
    if (!a.records.equals(b.records)) {
      let first = 0;
      while (first < Math.min(a.records.length, b.records.length) && a.records[first] === b.records[first]) first++;
      problems.push(
        `${name}: record bytes differ (${a.records.length} → ${b.records.length} bytes, first at ${first})`,
      );
    }
    for (const field of ['highWatermark', 'lastStableOffset', 'logStartOffset', 'abortedTransactions'] as const) {
      if (a[field] !== b[field]) problems.push(`${name}: ${field} ${String(a[field])} → ${String(b[field])}`);
    }
  }
  return problems;
}

/** One line per topic: partitions, batches, records, bytes. */
export function describeGolden(snapshot: ReadonlyMap<string, PartitionSnapshot>): string[] {
  return GOLDEN_LAYOUT.map(({ topic, partitions }) => {
    let batches = 0;
    let records = 0;
    let bytes = 0;
    let aborted = 0;
    for (let p = 0; p < partitions; p++) {
      const s = snapshot.get(`${topic}-${p}`)!;
      batches += s.batches;
      records += s.recordCount;
      bytes += s.records.length;
      aborted += (JSON.parse(s.abortedTransactions) as unknown[] | null)?.length ?? 0;
    }
    return (
      `${topic}: ${partitions} partitions, ${batches} batches, ${records} records, ${bytes} bytes, ` +
      `${aborted} aborted transactions`
    );
  });
}
