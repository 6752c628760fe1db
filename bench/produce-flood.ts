// The broker's own produce ceiling, without a client's per-message work: a Node generator on our
// codecs encodes one record batch per partition once (about 1 MB, under max.message.bytes) and sends
// it again and again in Produce v7 requests (acks=-1), one partition per request, round-robin, with
// `inFlight` requests outstanding on one connection. The broker assigns fresh offsets to every copy, so
// the log grows as with real traffic; only the client side is free. Timed from the first request to the
// last response.
import { ApiKey, ErrorCode } from '../src/protocol/generated/index.js';
import type { ProduceResponse } from '../src/protocol/generated/produce.js';
import { encodeRecordBatchSync } from '../src/protocol/record-batch/record-encoder.js';
import { WireClient } from './wire-client.js';

/** Kafka's default max.message.bytes is 1 MiB + 12; stay a little under it. */
const BATCH_BYTES_TARGET = 1_000_000;

export interface FloodResult {
  messages: number;
  requests: number;
  seconds: number;
  recordsPerBatch: number;
}

export async function produceFlood(
  host: string,
  port: number,
  topic: string,
  partitions: number,
  options: { valueBytes: number; messages: number; inFlight: number; timeoutMs: number },
): Promise<FloodResult> {
  const value = Buffer.alloc(options.valueBytes, 0x66);
  // A record of a v-byte value with no key or headers takes v + about 8 bytes.
  const recordsPerBatch = Math.max(1, Math.floor(BATCH_BYTES_TARGET / (options.valueBytes + 8)));
  const batch = encodeRecordBatchSync({
    records: Array.from({ length: recordsPerBatch }, () => ({ value })),
    timestamp: Date.now(),
  });
  const requests = Math.ceil(options.messages / recordsPerBatch);
  const client = await WireClient.connect(host, port);
  const deadline = performance.now() + options.timeoutMs;
  let sent = 0;
  let answered = 0;
  const start = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const sendMore = (): void => {
        while (sent < requests && sent - answered < options.inFlight) {
          const partition = sent % partitions;
          sent++;
          client
            .request<ProduceResponse>(ApiKey.Produce, 7, {
              transactionalId: null,
              acks: -1,
              timeoutMs: 30_000,
              topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
            })
            .then((response) => {
              const result = response.responses[0]?.partitionResponses[0];
              if (result === undefined || result.errorCode !== ErrorCode.NONE)
                return reject(new Error(`produce to ${topic}-${partition}: error ${result?.errorCode}`));
              answered++;
              if (answered === requests) return resolve();
              if (performance.now() > deadline)
                return reject(new Error(`produce flood did not finish in ${options.timeoutMs} ms`));
              sendMore();
            }, reject);
        }
      };
      sendMore();
    });
  } finally {
    client.close();
  }
  return {
    messages: requests * recordsPerBatch,
    requests,
    seconds: (performance.now() - start) / 1000,
    recordsPerBatch,
  };
}
