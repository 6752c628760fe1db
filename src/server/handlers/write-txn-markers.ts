// WriteTxnMarkers (key 27), versions 1-2: another broker's transaction coordinator ends a transaction
// in partitions this broker leads. Served by a cluster's brokers only (one node writes its markers
// itself, and no client should end a transaction behind its coordinator's back). Each partition is
// answered once its marker is committed (every in-sync replica has it): NOT_LEADER_OR_FOLLOWER when
// this broker does not lead it, UNKNOWN_TOPIC_OR_PARTITION when it does not know it; the coordinator
// retries those at the partition's leader. v2 names the marker's transaction version (KIP-890);
// markers here are always of version 1 transactions, so it is not read.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  WritableTxnMarkerResultInput,
  WriteTxnMarkersRequest,
  WriteTxnMarkersResponseInput,
} from '../../protocol/generated/write-txn-markers.js';
import type { KafkaHandler } from './handler.js';

/** Partitions one request may end; the rest are answered INVALID_REQUEST unwritten (a coordinator asks
 *  for one transaction's partitions at a time, at most 10 000 of them). */
export const MARKER_PARTITIONS_PER_REQUEST_MAX = 10_000;

export function writeTxnMarkersHandler(
  broker: Broker,
): KafkaHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponseInput> {
  return {
    apiKey: ApiKey.WriteTxnMarkers,
    name: 'WriteTxnMarkers',
    versions: { min: 1, max: 2 },
    async handle(request) {
      let budget = MARKER_PARTITIONS_PER_REQUEST_MAX;
      const markers = request.markers.map(async (marker): Promise<WritableTxnMarkerResultInput> => {
        const producerId = Number(marker.producerId);
        const topics = marker.topics.map(async (topic) => ({
          name: topic.name,
          partitions: await Promise.all(
            topic.partitionIndexes.map(async (partitionIndex) => ({
              partitionIndex,
              errorCode:
                budget-- <= 0 || !Number.isSafeInteger(producerId) || producerId < 0 || marker.producerEpoch < 0
                  ? ErrorCode.INVALID_REQUEST
                  : await broker.writeMarkerFromCoordinator(
                      topic.name,
                      partitionIndex,
                      producerId,
                      marker.producerEpoch,
                      marker.transactionResult,
                    ),
            })),
          ),
        }));
        return { producerId: marker.producerId, topics: await Promise.all(topics) };
      });
      return { markers: await Promise.all(markers) };
    },
  };
}
