// FindCoordinator (key 10): the coordinator of a group (key type 0) or a transactional id (key type 1)
// is the leader of the partition of `__consumer_offsets` or `__transaction_state` the key hashes to
// (the partition its records go to, broker/internal-topic.ts), as in Kafka; the leader and its address
// come from the metadata view — single node: always this node. v0 carries one group key; v1-3 add the
// key type and an error message; v4 batches keys ("CoordinatorKeys") with one answer each. As in Kafka,
// the first lookup creates the internal topic; if that fails, or the key's partition has no leader the
// view can name, the answer is COORDINATOR_NOT_AVAILABLE.
import type { Broker } from '../../broker/broker.js';
import { OFFSETS_TOPIC } from '../../broker/groups/offsets-store.js';
import { partitionForKey } from '../../broker/internal-topic.js';
import { TRANSACTION_STATE_TOPIC } from '../../broker/transactions/state-store.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  CoordinatorInput,
  FindCoordinatorRequest,
  FindCoordinatorResponseInput,
} from '../../protocol/generated/find-coordinator.js';
import type { KafkaHandler } from './handler.js';

const GROUP = 0;
const TRANSACTION = 1;

export function findCoordinatorHandler(
  broker: Broker,
): KafkaHandler<FindCoordinatorRequest, FindCoordinatorResponseInput> {
  async function lookup(key: string, keyType: number): Promise<CoordinatorInput> {
    const none = { key, nodeId: -1, host: '', port: -1 };
    if (keyType !== GROUP && keyType !== TRANSACTION)
      return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown key type ${keyType}` };
    if (keyType === GROUP && !(await broker.groups.ensureReady())) {
      return {
        ...none,
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: 'the offsets topic could not be created',
      };
    }
    if (keyType === TRANSACTION && !(await broker.transactions.ensureReady())) {
      return {
        ...none,
        errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
        errorMessage: 'the transaction state topic could not be created',
      };
    }
    const view = broker.metadata;
    const topic = keyType === GROUP ? OFFSETS_TOPIC : TRANSACTION_STATE_TOPIC;
    const partitions = broker.topics.get(topic)?.partitions;
    const partition = partitions === undefined ? -1 : partitionForKey(key, partitions);
    const placement = view.placement(topic, partition);
    const coordinator = placement === undefined ? undefined : view.node(placement.leaderId);
    if (coordinator === undefined) {
      const errorMessage = `${topic}-${partition} has no leader the metadata knows the address of`;
      return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage };
    }
    return {
      key,
      nodeId: coordinator.nodeId,
      host: coordinator.host,
      port: coordinator.port,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
    };
  }

  return {
    apiKey: ApiKey.FindCoordinator,
    name: 'FindCoordinator',
    versions: { min: 0, max: 4 },
    async handle(request, context) {
      const keyType = context.apiVersion >= 1 ? request.keyType : GROUP;
      if (context.apiVersion >= 4) {
        return {
          throttleTimeMs: 0,
          coordinators: await Promise.all(request.coordinatorKeys.map((key) => lookup(key, keyType))),
        };
      }
      const found = await lookup(request.key, keyType);
      return {
        throttleTimeMs: 0,
        errorCode: found.errorCode,
        errorMessage: found.errorMessage,
        nodeId: found.nodeId,
        host: found.host,
        port: found.port,
      };
    },
  };
}
