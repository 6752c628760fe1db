// AlterConfigs (key 33, versions 0-2) replaces a topic's whole set of overrides;
// IncrementalAlterConfigs (key 44, versions 0-1) edits them: SET, DELETE, APPEND, SUBTRACT (lists).
// Broker settings are static in Sluice (flags, environment, config file): altering them is refused
// with INVALID_REQUEST and a message saying where to set them.
import type { Broker } from '../../broker/broker.js';
import { topicSetting } from '../../runtime/settings.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type { AlterConfigsRequest, AlterConfigsResponseInput } from '../../protocol/generated/alter-configs.js';
import type {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponseInput,
} from '../../protocol/generated/incremental-alter-configs.js';
import { ResourceType } from './admin-common.js';
import type { KafkaHandler } from './handler.js';

const OP_SET = 0;
const OP_DELETE = 1;
const OP_APPEND = 2;
const OP_SUBTRACT = 3;

function refuseNonTopic(resourceType: number): { errorCode: number; errorMessage: string } | null {
  if (resourceType === ResourceType.TOPIC) return null;
  if (resourceType === ResourceType.BROKER)
    return {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage:
        'broker settings are static in Sluice: set them with flags, SLUICE_* variables or --config, then restart',
    };
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${resourceType} is not supported` };
}

export function alterConfigsHandler(broker: Broker): KafkaHandler<AlterConfigsRequest, AlterConfigsResponseInput> {
  return {
    apiKey: ApiKey.AlterConfigs,
    name: 'AlterConfigs',
    versions: { min: 0, max: 2 },
    async handle(request) {
      return {
        throttleTimeMs: 0,
        // Each resource's change is in memory before the next is worked out; their writes run in order.
        responses: await Promise.all(
          request.resources.map(async (resource) => {
            const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
            const refused = refuseNonTopic(resource.resourceType);
            if (refused) return { ...base, ...refused };
            const overrides: Record<string, string> = {};
            for (const c of resource.configs) if (c.value !== null) overrides[c.name] = c.value;
            return {
              ...base,
              ...(await broker.alterTopicConfigs(resource.resourceName, overrides, request.validateOnly)),
            };
          }),
        ),
      };
    },
  };
}

export function incrementalAlterConfigsHandler(
  broker: Broker,
): KafkaHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponseInput> {
  return {
    apiKey: ApiKey.IncrementalAlterConfigs,
    name: 'IncrementalAlterConfigs',
    versions: { min: 0, max: 1 },
    async handle(request) {
      return {
        throttleTimeMs: 0,
        // Each resource's change is in memory before the next is worked out; their writes run in order.
        responses: await Promise.all(
          request.resources.map(async (resource) => {
            const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
            const refused = refuseNonTopic(resource.resourceType);
            if (refused) return { ...base, ...refused };
            const topic = broker.topics.get(resource.resourceName);
            if (!topic)
              return {
                ...base,
                errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                errorMessage: `Topic '${resource.resourceName}' does not exist.`,
              };
            const overrides = { ...topic.configs };
            const effective = new Map((broker.topicConfigs(resource.resourceName) ?? []).map((c) => [c.name, c.value]));
            for (const c of resource.configs) {
              const definition = topicSetting(c.name);
              if (!definition)
                return {
                  ...base,
                  errorCode: ErrorCode.INVALID_CONFIG,
                  errorMessage: `Unknown topic config name: ${c.name}`,
                };
              if (c.configOperation === OP_SET) {
                if (c.value === null)
                  return { ...base, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `null value for ${c.name}` };
                overrides[c.name] = c.value;
              } else if (c.configOperation === OP_DELETE) {
                delete overrides[c.name];
              } else if (c.configOperation === OP_APPEND || c.configOperation === OP_SUBTRACT) {
                if (definition.type !== 'LIST')
                  return {
                    ...base,
                    errorCode: ErrorCode.INVALID_CONFIG,
                    errorMessage: `${c.name} is not a list; APPEND/SUBTRACT apply to lists only`,
                  };
                const current = (overrides[c.name] ?? effective.get(c.name) ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean);
                const items = (c.value ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter(Boolean);
                const next =
                  c.configOperation === OP_APPEND
                    ? [...current, ...items.filter((i) => !current.includes(i))]
                    : current.filter((i) => !items.includes(i));
                overrides[c.name] = next.join(',');
              } else {
                return {
                  ...base,
                  errorCode: ErrorCode.INVALID_REQUEST,
                  errorMessage: `unknown config operation ${c.configOperation}`,
                };
              }
            }
            return {
              ...base,
              ...(await broker.alterTopicConfigs(resource.resourceName, overrides, request.validateOnly)),
            };
          }),
        ),
      };
    },
  };
}
