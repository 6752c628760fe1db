// Produce (key 0): one record batch per partition, checked from its header and appended without
// decoding records, unless the topic needs them read (broker/produce/policy.ts). Answered after every
// partition's append resolved — under the default `sync` flush policy, after fsync, with concurrent
// requests sharing one fsync per partition (group commit in storage). acks=0 sends no response at all.
//
// | version | what changes                                   | what this handler does                     |
// |---------|------------------------------------------------|--------------------------------------------|
// | 0-2     | message format v0/v1                           | advertised (librdkafka < 2.11 turns       |
// |         |                                                |   compression off without Produce 0, as   |
// |         |                                                |   Kafka 4 does: KAFKA-18659); a request   |
// |         |                                                |   closes the connection                   |
// | 3-7     | v2 batches, KAFKA_STORAGE_ERROR, log start, zstd | served                                  |
// | 8       | record_errors and error_message (KIP-467)      | filled from the broker's answer           |
// | 9       | flexible encoding                              | the codec's                                |
// | 10      | current_leader, node_endpoints (KIP-951)       | with NOT_LEADER_OR_FOLLOWER: the leader   |
// |         |                                                |   and epoch the metadata view knows, and  |
// |         |                                                |   the address of each such leader         |
// | 11      | TRANSACTION_ABORTABLE may be answered          | nothing new to send                        |
// | 12      | a transactional batch adds its partition to    | the broker adds it through the transaction|
// |         |   the transaction (KIP-890 part 2)             |   coordinator, as AddPartitionsToTxn would|
// | 13      | topic ids instead of names (KIP-516)           | ids looked up; UNKNOWN_TOPIC_ID otherwise |
//
// A partition the metadata view says another broker leads (or none does) is NOT_LEADER_OR_FOLLOWER and
// is not appended; in single-node mode this node leads every partition, so the check only costs a
// lookup of the shared placement (broker/metadata/local-view.ts).
//
// v12's other half — EndTxn v5 bumping the epoch per transaction — is the transactions-v2 protocol,
// which clients use only when ApiVersions finalizes the `transaction.version` feature at 2; Sluice
// does not, so a transactional client stays on v11 and AddPartitionsToTxn, and v12 from a client that
// sends it anyway still gets the partition added as KIP-890 part 2 says.
import type { Broker, ProduceRequestFacts, ProduceResult } from '../../broker/broker.js';
import { ledElsewhere, type MetadataView, type PartitionPlacement } from '../../broker/metadata/view.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  NodeEndpointInput,
  PartitionProduceResponseInput,
  ProduceRequest,
  ProduceResponseInput,
  TopicProduceData,
  TopicProduceResponseInput,
} from '../../protocol/generated/produce.js';
import type { KafkaHandler } from './handler.js';

/** The first version whose transactional batches add their partition to the transaction (KIP-890 part 2). */
const IMPLICIT_ADD_PARTITIONS_VERSION = 12;
/** The first version that names topics by id (KIP-516). */
const TOPIC_IDS_VERSION = 13;

export function produceHandler(broker: Broker): KafkaHandler<ProduceRequest, ProduceResponseInput> {
  return {
    apiKey: ApiKey.Produce,
    name: 'Produce',
    versions: { min: 3, max: 13 },
    advertised: { min: 0, max: 13 },
    async handle(request, context) {
      const validAcks = request.acks === 0 || request.acks === 1 || request.acks === -1;
      const facts: ProduceRequestFacts = {
        acks: request.acks,
        transactionalId: request.transactionalId,
        addsPartitionsToTransaction: context.apiVersion >= IMPLICIT_ADD_PARTITIONS_VERSION,
      };
      const byId = context.apiVersion >= TOPIC_IDS_VERSION;
      const view = broker.metadata;
      // The leaders named in NOT_LEADER_OR_FOLLOWER answers, for v10's node_endpoints; null while none is.
      let leaders: Set<number> | null = null;
      const responses = await Promise.all(
        request.topicData.map(async (topic): Promise<TopicProduceResponseInput> => {
          const name = byId ? broker.topics.byId(topic.topicId)?.name : topic.name;
          const partitionResponses = await Promise.all(
            topic.partitionData.map(async (partition): Promise<PartitionProduceResponseInput> => {
              if (!validAcks)
                return failed(
                  partition.index,
                  ErrorCode.INVALID_REQUIRED_ACKS,
                  `acks must be -1, 0 or 1, got ${request.acks}`,
                );
              if (name === undefined) return unknownTopicId(topic, partition.index);
              const elsewhere = ledElsewhere(view, name, partition.index);
              if (elsewhere !== undefined) {
                (leaders ??= new Set()).add(elsewhere.leaderId);
                return notLeader(name, partition.index, elsewhere);
              }
              return answer(partition.index, await broker.produce(name, partition.index, partition.records, facts));
            }),
          );
          return byId ? { topicId: topic.topicId, partitionResponses } : { name: topic.name, partitionResponses };
        }),
      );
      if (request.acks === 0) return null;
      if (leaders === null) return { responses, throttleTimeMs: 0 };
      return { responses, throttleTimeMs: 0, nodeEndpoints: endpointsOf(view, leaders) };
    },
  };
}

function answer(index: number, result: ProduceResult): PartitionProduceResponseInput {
  return {
    index,
    errorCode: result.errorCode,
    errorMessage: result.errorMessage,
    baseOffset: BigInt(result.baseOffset),
    logAppendTimeMs: BigInt(result.logAppendTimeMs),
    logStartOffset: BigInt(result.logStartOffset),
    recordErrors: result.recordErrors,
  };
}

function failed(index: number, errorCode: number, errorMessage: string): PartitionProduceResponseInput {
  return { index, errorCode, baseOffset: -1n, errorMessage };
}

function notLeader(topic: string, index: number, placement: PartitionPlacement): PartitionProduceResponseInput {
  return {
    ...failed(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, `this broker does not lead ${topic}-${index}`),
    currentLeader: { leaderId: placement.leaderId, leaderEpoch: placement.leaderEpoch },
  };
}

/** KIP-951: the address of every leader a NOT_LEADER_OR_FOLLOWER answer names, so the client can go
 *  there without a Metadata round trip. A leader the view has no address for (-1: none) is left out. */
function endpointsOf(view: MetadataView, leaders: ReadonlySet<number>): NodeEndpointInput[] {
  const endpoints: NodeEndpointInput[] = [];
  for (const id of leaders) {
    const node = view.node(id);
    if (node !== undefined) endpoints.push({ nodeId: node.nodeId, host: node.host, port: node.port, rack: node.rack });
  }
  return endpoints;
}

function unknownTopicId(topic: TopicProduceData, index: number): PartitionProduceResponseInput {
  return failed(index, ErrorCode.UNKNOWN_TOPIC_ID, `no topic has id ${topic.topicId.toString('base64url')}`);
}
