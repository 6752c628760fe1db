// FindCoordinator (key 10): this node coordinates every group (key type 0) and every
// transactional id (key type 1). v0 carries one group key; v1-3 add the key type and an error
// message; v4 batches keys ("CoordinatorKeys") with one answer each. As in Kafka, the first group
// lookup creates `__consumer_offsets`; if that fails the answer is COORDINATOR_NOT_AVAILABLE.
import type { Broker } from '../../broker/broker.js';
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
    // This node coordinates every group and transactional id (single node: it leads every partition of
    // __consumer_offsets and __transaction_state); a cluster answers the leader of the key's partition.
    const coordinator = broker.metadata.node(broker.metadata.localNodeId)!;
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
