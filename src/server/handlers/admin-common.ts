// Pieces shared by the admin handlers: config resource types and config sources of DescribeConfigs.
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

/** The DescribeConfigs config_source of where a value came from (settings registry's SettingSource). */
export function configSourceOf(source: 'topic' | 'broker' | 'default'): number {
  return source === 'topic'
    ? ConfigSource.DYNAMIC_TOPIC_CONFIG
    : source === 'broker'
      ? ConfigSource.STATIC_BROKER_CONFIG
      : ConfigSource.DEFAULT_CONFIG;
}
