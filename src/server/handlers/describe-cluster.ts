// DescribeCluster (key 60), versions 0-1: this broker, which is also the controller.
import type { Broker } from '../../broker/broker.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  DescribeClusterRequest,
  DescribeClusterResponseInput,
} from '../../protocol/generated/describe-cluster.js';
import type { KafkaHandler } from './handler.js';

const ENDPOINT_TYPE_BROKERS = 1;

export function describeClusterHandler(
  broker: Broker,
): KafkaHandler<DescribeClusterRequest, DescribeClusterResponseInput> {
  return {
    apiKey: ApiKey.DescribeCluster,
    name: 'DescribeCluster',
    versions: { min: 0, max: 1 },
    handle(request) {
      if (request.endpointType !== ENDPOINT_TYPE_BROKERS) {
        return {
          errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
          errorMessage: `endpoint type ${request.endpointType} is not served`,
          clusterId: broker.metadata.clusterId,
          controllerId: -1,
          brokers: [],
        };
      }
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        endpointType: ENDPOINT_TYPE_BROKERS,
        clusterId: broker.metadata.clusterId,
        controllerId: broker.metadata.controllerId(),
        brokers: broker.metadata
          .nodes()
          .map(({ nodeId, host, port, rack }) => ({ brokerId: nodeId, host, port, rack })),
        clusterAuthorizedOperations: -2147483648,
      };
    },
  };
}
