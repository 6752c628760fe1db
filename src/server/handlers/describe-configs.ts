// DescribeConfigs (key 32), versions 1-4: topic configs (override, broker setting or default, with
// synonyms) and the broker's settings (static: set by flags, environment or config file).
import type { Broker } from '../../broker/broker.js';
import { brokerConfigDefaults } from '../../broker/config.js';
import { configTypeCode, topicConfigDefinitions } from '../../broker/topic-config.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  DescribeConfigsRequest,
  DescribeConfigsResourceResultInput,
  DescribeConfigsResponseInput,
  DescribeConfigsResultInput,
} from '../../protocol/generated/describe-configs.js';
import { ConfigSource, ResourceType } from './admin-common.js';
import type { KafkaHandler } from './handler.js';

/** The broker settings DescribeConfigs lists, with their defaults. */
export function brokerSettings(broker: Broker): Array<{ name: string; value: string; source: number }> {
  const defaults: Record<string, string> = { ...brokerConfigDefaults, 'log.flush.policy': 'sync' };
  for (const d of topicConfigDefinitions) defaults[d.brokerName] = d.defaultValue;
  defaults['node.id'] = String(broker.identity.nodeId);
  defaults['log.dirs'] = broker.config.dataDir;
  return Object.keys(defaults)
    .sort()
    .map((name) => {
      const set = broker.config.properties[name];
      return {
        name,
        value: set ?? defaults[name]!,
        source: set !== undefined ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG,
      };
    });
}

export function describeConfigsHandler(
  broker: Broker,
): KafkaHandler<DescribeConfigsRequest, DescribeConfigsResponseInput> {
  return {
    apiKey: ApiKey.DescribeConfigs,
    name: 'DescribeConfigs',
    // 1-4, not Table B's 1-2: @platformatic/kafka 1.35 picks 2 but writes v3's include_documentation;
    // with 4 advertised it uses its (correct) v4 encoder. Every version's fields are filled below.
    versions: { min: 1, max: 4 },
    handle(request) {
      const seen = new Set<string>();
      const results: DescribeConfigsResultInput[] = request.resources.map((resource) => {
        // A resource named twice is answered once; the repeat gets an error and no configs, so a small
        // request cannot ask for a response hundreds of times its size.
        const key = `${resource.resourceType}:${resource.resourceName}`;
        if (seen.has(key))
          return {
            resourceType: resource.resourceType,
            resourceName: resource.resourceName,
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: 'resource listed more than once',
            configs: [],
          };
        seen.add(key);
        const wanted = (name: string) =>
          resource.configurationKeys === null || resource.configurationKeys.includes(name);
        const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
        if (resource.resourceType === ResourceType.TOPIC) {
          const configs = broker.topicConfigs(resource.resourceName);
          if (!configs)
            return {
              ...base,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: `Topic '${resource.resourceName}' does not exist.`,
              configs: [],
            };
          return {
            ...base,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            configs: configs
              .filter((c) => wanted(c.name))
              .map((c): DescribeConfigsResourceResultInput => {
                const synonyms = [];
                const topicValue = broker.topics.get(resource.resourceName)!.configs[c.name];
                if (topicValue !== undefined)
                  synonyms.push({ name: c.name, value: topicValue, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
                const brokerValue = broker.config.properties[c.definition.brokerName];
                if (brokerValue !== undefined)
                  synonyms.push({
                    name: c.definition.brokerName,
                    value: brokerValue,
                    source: ConfigSource.STATIC_BROKER_CONFIG,
                  });
                synonyms.push({
                  name: c.definition.brokerName,
                  value: c.definition.defaultValue,
                  source: ConfigSource.DEFAULT_CONFIG,
                });
                return {
                  name: c.name,
                  value: c.value,
                  readOnly: false,
                  configSource:
                    c.source === 'topic'
                      ? ConfigSource.DYNAMIC_TOPIC_CONFIG
                      : c.source === 'broker'
                        ? ConfigSource.STATIC_BROKER_CONFIG
                        : ConfigSource.DEFAULT_CONFIG,
                  isSensitive: false,
                  synonyms: request.includeSynonyms ? synonyms : [],
                  configType: configTypeCode[c.definition.type],
                  documentation: request.includeDocumentation ? c.definition.documentation : null,
                };
              }),
          };
        }
        if (resource.resourceType === ResourceType.BROKER) {
          if (resource.resourceName !== '' && resource.resourceName !== String(broker.identity.nodeId)) {
            return {
              ...base,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Unexpected broker id, expected ${broker.identity.nodeId} but received ${resource.resourceName}`,
              configs: [],
            };
          }
          return {
            ...base,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            configs: brokerSettings(broker)
              .filter((s) => wanted(s.name))
              .map((s) => ({
                name: s.name,
                value: s.value,
                readOnly: true,
                configSource: s.source,
                isSensitive: false,
                synonyms: request.includeSynonyms ? [{ name: s.name, value: s.value, source: s.source }] : [],
                configType: configTypeCode.STRING,
                documentation: null,
              })),
          };
        }
        return {
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `resource type ${resource.resourceType} is not supported`,
          configs: [],
        };
      });
      return { throttleTimeMs: 0, results };
    },
  };
}
