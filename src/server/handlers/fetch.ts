// Fetch (key 1), versions 4-12. Full fetches only: every request is answered with session_id 0,
// which declines incremental fetch sessions (KIP-227) — clients then send full fetches. Long-poll
// (max_wait_ms/min_bytes) is woken by appends (Broker.fetch). Records are the stored batches as
// read from the segment, handed to the socket without a copy (ByteWriter references large buffers).
// isolation_level 1 (read_committed) stops at each partition's last stable offset and lists the
// aborted transactions overlapping the records returned, so the client drops their records.
import { READ_COMMITTED, type Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { FetchRequest, FetchResponseInput, PartitionDataInput } from '../../protocol/generated/fetch.js';
import type { KafkaHandler } from './handler.js';

export function fetchHandler(broker: Broker): KafkaHandler<FetchRequest, FetchResponseInput> {
  return {
    apiKey: ApiKey.Fetch,
    name: 'Fetch',
    versions: { min: 4, max: 12 },
    async handle(request, context) {
      if (request.sessionId !== 0) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
      }
      // Each topic-partition is read once, however often the request names it (as in Kafka, where
      // the request is a map): a small request cannot ask for the same data hundreds of times.
      const topics = new Map<string, Map<number, { fetchOffset: number; partitionMaxBytes: number }>>();
      for (const topic of request.topics) {
        const partitions = topics.get(topic.topic) ?? new Map();
        for (const p of topic.partitions)
          if (!partitions.has(p.partition))
            partitions.set(p.partition, { fetchOffset: Number(p.fetchOffset), partitionMaxBytes: p.partitionMaxBytes });
        topics.set(topic.topic, partitions);
      }
      const wanted = [...topics].flatMap(([topic, partitions]) =>
        [...partitions].map(([partition, p]) => ({ topic, partition, ...p })),
      );
      const results = await broker.fetch(
        wanted,
        {
          maxWaitMs: request.maxWaitMs,
          minBytes: request.minBytes,
          maxBytes: request.maxBytes,
          isolationLevel: request.isolationLevel === READ_COMMITTED ? READ_COMMITTED : 0,
        },
        context.signal,
      );
      let index = 0;
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        sessionId: 0,
        responses: [...topics].map(([topic, partitions]) => ({
          topic,
          partitions: [...partitions.keys()].map((): PartitionDataInput => {
            const r = results[index++]!;
            return {
              partitionIndex: r.partition,
              errorCode: r.errorCode,
              highWatermark: BigInt(r.highWatermark),
              lastStableOffset: BigInt(r.lastStableOffset),
              logStartOffset: BigInt(r.logStartOffset),
              abortedTransactions:
                r.abortedTransactions === null
                  ? null
                  : r.abortedTransactions.map((a) => ({
                      producerId: BigInt(a.producerId),
                      firstOffset: BigInt(a.firstOffset),
                    })),
              preferredReadReplica: -1,
              records: r.records,
            };
          }),
        })),
      };
    },
  };
}
