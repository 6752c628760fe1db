// Produce→consume latency at a fixed rate, with our own codecs on two connections of one process:
//
// - Producer: every ~1 ms timer tick sends the messages that are due by the schedule
//   (rate × elapsed) as one record batch in one Produce v7 request, acks=-1, without waiting for
//   earlier requests (pipelined, at most IN_FLIGHT_MAX unanswered). Each value starts with the send
//   time (performance.now(), a float64) taken just before the batch is encoded.
// - Consumer: one long-poll Fetch v11 at a time (max_wait_ms 500, min_bytes 1) from the next offset;
//   when a response arrives, every record in it gets latency = arrival time − its send time.
//
// Both ends share one clock, so no clock sync is involved. The latency includes the broker's
// fsync (acks=all under `sync` means the high watermark, and so Fetch, moves only after fdatasync),
// the Fetch wake-up, and both directions of loopback. Messages sent during the warm-up are not
// counted. The send time is the actual one, so a late timer tick (reported as send lag) is not
// counted as broker latency.
import { performance } from 'node:perf_hooks';
import { ApiKey, ErrorCode } from '../src/protocol/generated/index.js';
import type { FetchResponse } from '../src/protocol/generated/fetch.js';
import type { ProduceResponse } from '../src/protocol/generated/produce.js';
import { decodeRecordBatchSync } from '../src/protocol/record-batch/record-decoder.js';
import { type RecordToEncode } from '../src/protocol/record-batch/record-encoder.js';
import { encodeRecordBatchSync } from '../src/protocol/record-batch/record-encoder.js';
import { WireClient } from './wire-client.js';

/** Unanswered Produce requests allowed before the producer skips a tick (and falls behind). */
const IN_FLIGHT_MAX = 200;
/** Records in one batch at most, if the producer has fallen behind. */
const BATCH_RECORDS_MAX = 500;
/** Size of the batch-length prefix (base offset int64 + batch length int32). */
const BATCH_PREFIX_BYTES = 12;

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LatencyResult {
  rate: number;
  valueBytes: number;
  durationMs: number;
  warmupMs: number;
  sent: number;
  received: number;
  produceRequests: number;
  /** Produce → consume, per message (ms). */
  endToEnd: Percentiles;
  /** Produce request sent → its response (acks=-1, i.e. after fsync), per request (ms). */
  produceAck: Percentiles;
  /** How far behind the schedule the producer's ticks were (ms). */
  sendLagMaxMs: number;
  sendLagMeanMs: number;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const at = (q: number): number => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.floor(q * n))]!);
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: n,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: n === 0 ? NaN : sorted[n - 1]!,
    mean: n === 0 ? NaN : sum / n,
  };
}

export async function fixedRateLatency(
  host: string,
  port: number,
  topic: string,
  options: { rate: number; valueBytes: number; durationMs: number; warmupMs: number },
): Promise<LatencyResult> {
  const { rate, valueBytes, durationMs, warmupMs } = options;
  const total = Math.round((rate * durationMs) / 1000);
  const producer = await WireClient.connect(host, port);
  const consumer = await WireClient.connect(host, port);
  const template = Buffer.alloc(valueBytes, 0x6c);
  const endToEnd: number[] = [];
  const produceAck: number[] = [];
  let sent = 0;
  let received = 0;
  let inFlight = 0;
  let produceRequests = 0;
  let producerError: Error | null = null;
  let sendLagMaxMs = 0;
  let sendLagSumMs = 0;
  let ticks = 0;
  const start = performance.now();
  const countFrom = start + warmupMs;
  // Everything stops by this time, whatever happens.
  const hardDeadline = start + durationMs + 15_000;

  const produced = new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (producerError !== null || now > hardDeadline) return resolve();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000));
      if (due > sent && inFlight < IN_FLIGHT_MAX) {
        const lag = now - (start + (sent * 1000) / rate);
        sendLagMaxMs = Math.max(sendLagMaxMs, lag);
        sendLagSumMs += lag;
        ticks++;
        const count = Math.min(due - sent, BATCH_RECORDS_MAX);
        const stamp = performance.now();
        const records: RecordToEncode[] = [];
        for (let i = 0; i < count; i++) {
          const value = Buffer.from(template);
          value.writeDoubleBE(stamp, 0);
          records.push({ value });
        }
        const batch = encodeRecordBatchSync({ records, timestamp: Date.now() });
        sent += count;
        inFlight++;
        produceRequests++;
        producer
          .request<ProduceResponse>(ApiKey.Produce, 7, {
            transactionalId: null,
            acks: -1,
            timeoutMs: 30_000,
            topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
          })
          .then(
            (response) => {
              inFlight--;
              produceAck.push(performance.now() - stamp);
              const partition = response.responses[0]?.partitionResponses[0];
              if (partition === undefined || partition.errorCode !== ErrorCode.NONE)
                producerError = new Error(`produce failed: error ${partition?.errorCode}`);
            },
            (error: Error) => {
              inFlight--;
              producerError = error;
            },
          );
      }
      if (sent >= total) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });

  const consumed = (async () => {
    let fetchOffset = 0;
    while (received < total && performance.now() < hardDeadline && producerError === null) {
      const response = await consumer.request<FetchResponse>(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 16 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(fetchOffset),
                logStartOffset: -1n,
                partitionMaxBytes: 8 * 1024 * 1024,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      const arrival = performance.now();
      const partition = response.responses[0]?.partitions[0];
      if (partition === undefined || partition.errorCode !== ErrorCode.NONE)
        throw new Error(`fetch failed: error ${partition?.errorCode ?? response.errorCode}`);
      const records = partition.records ?? Buffer.alloc(0);
      let position = 0;
      while (position + BATCH_PREFIX_BYTES <= records.length) {
        const batchBytes = BATCH_PREFIX_BYTES + records.readInt32BE(position + 8);
        if (position + batchBytes > records.length) break; // a partial batch at the end of the response
        const batch = decodeRecordBatchSync(records.subarray(position, position + batchBytes));
        position += batchBytes;
        for (const record of batch.records) {
          if (record.offset < fetchOffset) continue;
          received++;
          const stamp = record.value!.readDoubleBE(0);
          if (stamp >= countFrom) endToEnd.push(arrival - stamp);
        }
        fetchOffset = batch.baseOffset + batch.lastOffsetDelta + 1;
      }
    }
  })();

  try {
    await produced;
    await consumed;
  } finally {
    producer.close();
    consumer.close();
  }
  if (producerError !== null) throw producerError;
  return {
    rate,
    valueBytes,
    durationMs,
    warmupMs,
    sent,
    received,
    produceRequests,
    endToEnd: percentiles(endToEnd),
    // Requests sent during warm-up are left out here too (first ~warmup × rate / batch size of them).
    produceAck: percentiles(produceAck.slice(Math.floor((produceAck.length * warmupMs) / durationMs))),
    sendLagMaxMs,
    sendLagMeanMs: ticks === 0 ? 0 : sendLagSumMs / ticks,
  };
}
