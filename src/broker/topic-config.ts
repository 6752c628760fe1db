// Topic-level configuration: a topic stores only its overrides (strings, as on the wire); every config
// Kafka defines has an effective value, override ?? broker setting ?? default. Names, types, defaults,
// bounds and broker synonyms are the settings registry's (src/runtime/topic-settings.ts); this module
// adds the checks that span several configs (Kafka's LogConfig.validateValues) and turns the effective
// values into the LogConfig storage runs with. Size limits across layers: size-limits.ts.
import {
  brokerValue,
  effectiveTopicSettings,
  settingNamed,
  topicOverridesProblem,
  type EffectiveSetting,
} from '../runtime/settings.js';
import { logConfigFromSettings, type LogConfig } from '../storage/limits.js';

export type EffectiveConfig = EffectiveSetting;

/** Every topic config with its effective value, where it comes from, and its synonyms. */
export const effectiveTopicConfigs = effectiveTopicSettings;

function effectiveValues(overrides: Record<string, string>, brokerProperties: Record<string, string>) {
  return new Map(effectiveTopicSettings(overrides, brokerProperties).map((config) => [config.name, config.value]));
}

/** Checks a topic's overrides (null: deleted): each name and value (the registry), then the relations
 *  between configs, as Kafka does. Returns the first problem, naming the configs, or null. */
export function topicConfigProblem(
  overrides: Record<string, string | null>,
  brokerProperties: Record<string, string>,
): string | null {
  const problem = topicOverridesProblem(overrides);
  if (problem !== null) return problem;
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(overrides)) if (value !== null) given[name] = value;
  const effective = effectiveValues(given, brokerProperties);
  const minLag = BigInt(effective.get('min.compaction.lag.ms')!.trim());
  const maxLag = BigInt(effective.get('max.compaction.lag.ms')!.trim());
  if (minLag > maxLag) {
    return `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`;
  }
  return null;
}

/** The storage LogConfig of a topic: its overrides, then the broker settings, then the defaults.
 *  Throws (ConfigError or StorageError) naming a setting whose value storage cannot use. */
export function logConfigFor(overrides: Record<string, string>, brokerProperties: Record<string, string>): LogConfig {
  const topicValues = effectiveValues(overrides, brokerProperties);
  return logConfigFromSettings(
    (name) => topicValues.get(name) ?? brokerValue(brokerProperties, settingNamed(name)).value ?? undefined,
  );
}
