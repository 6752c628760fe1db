// The settings registry: every setting Sluice reads is declared once — broker-settings.ts and
// topic-settings.ts hold the entries (name, type, default, bounds or allowed values, topic-level or not
// with its broker-level synonyms, acted on or only accepted, one doc line) — and everything else reads
// them from here: start-up validation, the typed values each layer uses, CreateTopics/AlterConfigs
// validation, DescribeConfigs (values, sources, synonyms, types, documentation), `sluice start --help`
// and the README's tables (settings-docs.ts). No other file declares a default or a bound.
//
// Values are strings, as in a .properties file and on the wire. A broker setting's value is the one
// given under its name, else under a synonym (scaled to its unit: log.retention.hours → ms), else the
// default. A topic setting's value is the topic's override, else its broker setting's value.
import { brokerSettings } from './broker-settings.js';
import type { SettingDefinition, SettingType } from './setting-types.js';
import { INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, SHORT_MAX, SHORT_MIN } from './setting-types.js';
import { topicSettings } from './topic-settings.js';

export type { BrokerSynonym, SettingDefinition, SettingType } from './setting-types.js';
export { parseFlushPolicyText, type FlushPolicyText } from './broker-settings.js';

/** A setting with a value it does not accept (the message names the setting), found at start. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Every setting: broker settings first, then topic settings, each table in its own order. */
export const settings: readonly SettingDefinition[] = [...brokerSettings, ...topicSettings];

/** DescribeConfigs v3+ config_type codes. */
export const configTypeCode: Record<SettingType, number> = {
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
};

const byTopicName = new Map(topicSettings.map((definition) => [definition.name, definition]));

/** Broker names (main and synonyms) → their setting and the factor to its unit. */
const byBrokerName = new Map<string, { definition: SettingDefinition; scale: number }>();
for (const definition of settings) {
  if (definition.brokerName !== null) byBrokerName.set(definition.brokerName, { definition, scale: 1 });
  for (const synonym of definition.synonyms ?? []) byBrokerName.set(synonym.name, { definition, scale: synonym.scale });
}

/** The topic-level setting called `name` (CreateTopics, AlterConfigs), if Kafka defines one. */
export function topicSetting(name: string): SettingDefinition | undefined {
  return byTopicName.get(name);
}

/** The setting a broker-level name (or synonym) sets, if any. */
export function brokerSetting(name: string): SettingDefinition | undefined {
  return byBrokerName.get(name)?.definition;
}

/** The setting known by `name` as a broker name, else as a topic name; throws for a name not in the
 *  registry (a programming error: every name the code reads is declared). */
export function settingNamed(name: string): SettingDefinition {
  const found = byBrokerName.get(name)?.definition ?? byTopicName.get(name);
  if (found === undefined) throw new Error(`"${name}" is not in the settings registry`);
  return found;
}

// ── values ──────────────────────────────────────────────────────────────────────────────────────

const integerRange: Partial<Record<SettingType, [bigint, bigint]>> = {
  SHORT: [SHORT_MIN, SHORT_MAX],
  INT: [INT_MIN, INT_MAX],
  LONG: [LONG_MIN, LONG_MAX],
};

function rangeText(definition: SettingDefinition, what: string): string {
  const { min, max } = definition;
  const range =
    min !== undefined && max !== undefined
      ? `${what} in [${min}, ${max}]`
      : min !== undefined
        ? `${what} >= ${min}`
        : max !== undefined
          ? `${what} <= ${max}`
          : what;
  return definition.special ? `${range} or ${definition.special.join(' or ')}` : range;
}

/** Why `raw` is not a valid value of `definition` ("<name> must be …, got "<raw>""), or null. `name`
 *  is the name the value was given under (a broker name or synonym), for the message. */
export function valueProblem(definition: SettingDefinition, raw: string, name = definition.name): string | null {
  const value = raw.trim();
  if (definition.special?.includes(value)) return null;
  const wrong = (expected: string) => `${name} must be ${expected}, got "${raw}"`;
  const range = integerRange[definition.type];
  if (range !== undefined) {
    if (!/^[+-]?\d+$/.test(value)) return wrong(rangeText(definition, 'an integer'));
    const number = BigInt(value);
    const [typeMin, typeMax] = range;
    if (number < typeMin || number > typeMax) {
      return wrong(`an integer in [${definition.min ?? typeMin}, ${definition.max ?? typeMax}]`);
    }
    if (
      (definition.min !== undefined && number < BigInt(definition.min)) ||
      (definition.max !== undefined && number > BigInt(definition.max))
    ) {
      return wrong(rangeText(definition, 'an integer'));
    }
  } else if (definition.type === 'DOUBLE') {
    const number = Number(value);
    if (
      !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value) ||
      (definition.min !== undefined && number < Number(definition.min)) ||
      (definition.max !== undefined && number > Number(definition.max))
    ) {
      return wrong(rangeText(definition, 'a number'));
    }
  } else if (definition.type === 'BOOLEAN') {
    if (!/^(true|false)$/i.test(value)) return wrong('true or false');
  } else if (definition.type === 'LIST') {
    const items = listOf(value);
    if (definition.allowed && !items.every((item) => definition.allowed!.includes(item))) {
      return wrong(`a comma-separated list of ${definition.allowed.join(', ')}`);
    }
  } else if (definition.allowed && !definition.allowed.includes(value)) {
    return wrong(`one of ${definition.allowed.join(', ')}`);
  }
  const problem = definition.check?.(raw);
  return problem ? `${name} ${problem}` : null;
}

/** The largest value an integer setting accepts: its own bound, else its type's (an INT: 2^31 − 1). */
export function integerUpperBound(definition: SettingDefinition): bigint {
  const range = integerRange[definition.type];
  if (range === undefined) throw new Error(`${definition.name} is not an integer setting`);
  return definition.max !== undefined ? BigInt(definition.max) : range[1];
}

/** A checked integer value as a number (a LONG past 2^53 is rounded; every such default means "never"). */
export function integerOf(value: string): number {
  return Number(BigInt(value.trim()));
}

export function booleanOf(value: string): boolean {
  return value.trim().toLowerCase() === 'true';
}

/** A LIST value's items, trimmed; the empty string is the empty list. */
export function listOf(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// ── broker settings ─────────────────────────────────────────────────────────────────────────────

export interface BrokerValue {
  /** The value in the setting's unit; null when it is not set and has no default. */
  value: string | null;
  /** The name it was given under (the setting's own or a synonym); null when it is the default. */
  givenAs: string | null;
}

/** Reads one name of a setting: checks it and scales it to the setting's unit. Throws ConfigError. */
function givenValue(definition: SettingDefinition, name: string, raw: string, scale: number): string {
  if (scale === 1) {
    const problem = valueProblem(definition, raw, name);
    if (problem) throw new ConfigError(problem);
    return raw;
  }
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const given = BigInt(raw.trim());
  // Kafka reads a negative hours/minutes value as "no limit" where the setting has -1 for it.
  const scaled = given < 0n && definition.min === -1n ? '-1' : String(given * BigInt(scale));
  const problem = valueProblem(definition, scaled, name);
  if (problem) throw new ConfigError(`${problem} (${raw} × ${scale})`);
  return scaled;
}

/** The value of a broker setting, from its name, a synonym or the default. Throws ConfigError when the
 *  value given is invalid. */
export function brokerValue(properties: Record<string, string>, definition: SettingDefinition): BrokerValue {
  if (definition.brokerName !== null && properties[definition.brokerName] !== undefined) {
    const raw = properties[definition.brokerName]!;
    return { value: givenValue(definition, definition.brokerName, raw, 1), givenAs: definition.brokerName };
  }
  for (const synonym of definition.synonyms ?? []) {
    const raw = properties[synonym.name];
    if (raw !== undefined)
      return { value: givenValue(definition, synonym.name, raw, synonym.scale), givenAs: synonym.name };
  }
  return { value: definition.defaultValue, givenAs: null };
}

function valueOf(properties: Record<string, string>, name: string): string {
  const { value } = brokerValue(properties, settingNamed(name));
  if (value === null) throw new Error(`${name} has no default; read it with readOptionalString`);
  return value;
}

/** The integer setting `name` (a broker name) from `properties`; throws ConfigError when invalid. */
export function readInteger(properties: Record<string, string>, name: string): number {
  return integerOf(valueOf(properties, name));
}

export function readBoolean(properties: Record<string, string>, name: string): boolean {
  return booleanOf(valueOf(properties, name));
}

export function readDouble(properties: Record<string, string>, name: string): number {
  return Number(valueOf(properties, name).trim());
}

export function readString(properties: Record<string, string>, name: string): string {
  return valueOf(properties, name);
}

export function readOptionalString(properties: Record<string, string>, name: string): string | null {
  return brokerValue(properties, settingNamed(name)).value;
}

export function readList(properties: Record<string, string>, name: string): string[] {
  return listOf(valueOf(properties, name));
}

/** The registry's default of `name`, as a number (for the code's own defaults, e.g. listener limits). */
export function integerDefault(name: string): number {
  return integerOf(settingNamed(name).defaultValue!);
}

/** Checks every setting `properties` gives that the registry knows (names it does not know are
 *  ignored, so a Kafka server.properties can be reused). Throws ConfigError naming the first bad one. */
export function checkBrokerSettings(properties: Record<string, string>): void {
  for (const name of Object.keys(properties)) {
    const known = byBrokerName.get(name);
    if (known !== undefined) givenValue(known.definition, name, properties[name]!, known.scale);
  }
}

// ── topic settings ──────────────────────────────────────────────────────────────────────────────

export type SettingSource = 'topic' | 'broker' | 'default';

export interface EffectiveSetting {
  name: string;
  value: string;
  source: SettingSource;
  definition: SettingDefinition;
  /** Every place a value is set for it, highest priority first (DescribeConfigs' synonyms). */
  synonyms: Array<{ name: string; value: string; source: SettingSource }>;
}

/** A topic setting's value: the topic's override, else its broker setting's value, else the default. */
export function effectiveTopicSetting(
  definition: SettingDefinition,
  overrides: Record<string, string>,
  brokerProperties: Record<string, string>,
): EffectiveSetting {
  const synonyms: EffectiveSetting['synonyms'] = [];
  const override = overrides[definition.name];
  if (override !== undefined) synonyms.push({ name: definition.name, value: override, source: 'topic' });
  const brokerNames = [
    ...(definition.brokerName !== null ? [definition.brokerName] : []),
    ...(definition.synonyms ?? []).map((s) => s.name),
  ];
  for (const name of brokerNames) {
    const given = brokerProperties[name];
    if (given !== undefined) synonyms.push({ name, value: given, source: 'broker' });
  }
  synonyms.push({ name: definition.brokerName ?? definition.name, value: definition.defaultValue!, source: 'default' });
  const atBroker = brokerValue(brokerProperties, definition);
  const [value, source]: [string, SettingSource] =
    override !== undefined
      ? [override, 'topic']
      : atBroker.givenAs !== null
        ? [atBroker.value!, 'broker']
        : [definition.defaultValue!, 'default'];
  return { name: definition.name, value, source, definition, synonyms };
}

/** Every topic setting of a topic, in the registry's order. */
export function effectiveTopicSettings(
  overrides: Record<string, string>,
  brokerProperties: Record<string, string>,
): EffectiveSetting[] {
  return topicSettings.map((definition) => effectiveTopicSetting(definition, overrides, brokerProperties));
}

/** The first problem of a set of topic overrides (null values are deletions): an unknown name, in
 *  Kafka's words, or an invalid value, naming the config. Null when all are fine. */
export function topicOverridesProblem(overrides: Record<string, string | null>): string | null {
  for (const [name, value] of Object.entries(overrides)) {
    const definition = byTopicName.get(name);
    if (definition === undefined) return `Unknown topic config name: ${name}`;
    if (value === null) continue;
    const problem = valueProblem(definition, value);
    if (problem) return problem;
  }
  return null;
}
