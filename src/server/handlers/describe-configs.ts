// DescribeConfigs (key 32), versions 1-4: topic configs (override, broker setting or default, with
// synonyms) and the broker's settings (static: set by flags, environment or config file). Types,
// documentation and defaults are the settings registry's.
import type { Broker } from '../../broker/broker.js';
import { brokerValue, configTypeCode, settings, type SettingDefinition } from '../../runtime/settings.js';
import { ApiKey, ErrorCode } from '../../protocol/generated/index.js';
import type {
  DescribeConfigsRequest,
  DescribeConfigsResourceResultInput,
  DescribeConfigsResponseInput,
  DescribeConfigsResultInput,
} from '../../protocol/generated/describe-configs.js';
import { ConfigSource, configSourceOf, ResourceType } from './admin-common.js';
import type { KafkaHandler } from './handler.js';

export interface DescribedBrokerSetting {
  name: string;
  value: string | null;
  source: number;
  definition: SettingDefinition;
  synonyms: Array<{ name: string; value: string; source: number }>;
}

/** The broker settings DescribeConfigs lists: every broker setting of the registry and the broker
 *  setting behind each topic config, with the value in force and where it came from. */
export function brokerSettings(broker: Broker): DescribedBrokerSetting[] {
  const properties = broker.config.properties;
  const actual: Record<string, string> = {
    'node.id': String(broker.identity.nodeId),
    'log.dirs': broker.config.dataDir,
    'advertised.listeners': `${broker.config.advertisedHost}:${broker.config.advertisedPort}`,
  };
  const described: DescribedBrokerSetting[] = [];
  for (const definition of settings) {
    const name = definition.brokerName;
    if (name === null) continue;
    const { value, givenAs } = brokerValue(properties, definition);
    const synonyms = [name, ...(definition.synonyms ?? []).map((s) => s.name)]
      .filter((given) => properties[given] !== undefined)
      .map((given): { name: string; value: string; source: number } => ({
        name: given,
        value: properties[given]!,
        source: ConfigSource.STATIC_BROKER_CONFIG,
      }));
    if (definition.defaultValue !== null)
      synonyms.push({ name, value: definition.defaultValue, source: ConfigSource.DEFAULT_CONFIG });
    described.push({
      name,
      value: givenAs === null && actual[name] !== undefined ? actual[name]! : value,
      source: givenAs !== null ? ConfigSource.STATIC_BROKER_CONFIG : ConfigSource.DEFAULT_CONFIG,
      definition,
      synonyms,
    });
  }
  return described.sort((a, b) => a.name.localeCompare(b.name));
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
              .map((c): DescribeConfigsResourceResultInput => ({
                name: c.name,
                value: c.value,
                readOnly: false,
                configSource: configSourceOf(c.source),
                isSensitive: false,
                synonyms: request.includeSynonyms
                  ? c.synonyms.map((s) => ({ name: s.name, value: s.value, source: configSourceOf(s.source) }))
                  : [],
                configType: configTypeCode[c.definition.type],
                documentation: request.includeDocumentation ? c.definition.doc : null,
              })),
          };
        }
        if (resource.resourceType === ResourceType.BROKER) {
          if (resource.resourceName !== '' && resource.resourceName !== String(broker.identity.nodeId)) {
            const expected = broker.identity.nodeId;
            return {
              ...base,
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Unexpected broker id, expected ${expected} but received ${resource.resourceName}`,
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
                synonyms: request.includeSynonyms ? s.synonyms : [],
                configType: configTypeCode[s.definition.type],
                documentation: request.includeDocumentation ? s.definition.doc : null,
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
