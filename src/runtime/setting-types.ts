// The shape of one entry of the settings registry (broker-settings.ts, topic-settings.ts), and the
// bounds the entries share. Kept apart from settings.ts so the two tables and the code that reads
// them import one way: setting-types ← *-settings ← settings ← settings-docs.

/** Kafka's config types (DescribeConfigs v3+ reports them as codes, `configTypeCode`). */
export type SettingType = 'BOOLEAN' | 'STRING' | 'INT' | 'SHORT' | 'LONG' | 'DOUBLE' | 'LIST' | 'CLASS' | 'PASSWORD';

export interface BrokerSynonym {
  /** Another broker name for the same setting, read when the main one is not set (`log.retention.hours`). */
  readonly name: string;
  /** The factor from its unit to the setting's (hours → ms: 3 600 000); 1 for the same unit. */
  readonly scale: number;
}

export interface SettingDefinition {
  /** Kafka's name: the topic-level name of a topic setting (`retention.ms`), else the broker setting's. */
  readonly name: string;
  /** 'topic': CreateTopics and AlterConfigs may override it per topic; the broker setting `brokerName`
   *  supplies every other topic's value. 'broker': set only at start. */
  readonly scope: 'broker' | 'topic';
  /** The broker-level name: a topic setting's broker default (`log.retention.ms`; null where Kafka has
   *  none), a broker setting's own name. */
  readonly brokerName: string | null;
  /** More broker names, lower priority than `brokerName`, in Kafka's order. */
  readonly synonyms?: readonly BrokerSynonym[];
  readonly type: SettingType;
  /** The default as Kafka writes it; null when there is none (the caller decides, e.g. advertised.listeners). */
  readonly defaultValue: string | null;
  /** Inclusive bounds of an integer (bigint) or DOUBLE (number) setting. */
  readonly min?: bigint | number;
  readonly max?: bigint | number;
  /** Values accepted besides the range, such as -1 for "no limit". */
  readonly special?: readonly string[];
  /** STRING: the values accepted; LIST: the items accepted. */
  readonly allowed?: readonly string[];
  /** A check the fields above cannot say; returns why `value` is invalid ("must be …, got …") or null. */
  readonly check?: (value: string) => string | null;
  /** The valid values as the documentation shows them, where `check` decides them. */
  readonly validText?: string;
  /** 'acted': Sluice does what the setting says. 'inert': accepted, stored and described, not acted on
   *  yet; its doc line says so ("accepted, not acted on yet"). */
  readonly effect: 'acted' | 'inert';
  /** One line: what it does in Sluice, and where a bound differs from Kafka's, why. */
  readonly doc: string;
  /** Its place in `sluice start --help` and the README's table of main settings, when listed there. */
  readonly main?: number;
}

export const INT_MAX = 2n ** 31n - 1n;
export const INT_MIN = -(2n ** 31n);
export const SHORT_MAX = 2n ** 15n - 1n;
export const SHORT_MIN = -(2n ** 15n);
export const LONG_MAX = 2n ** 63n - 1n;
export const LONG_MIN = -(2n ** 63n);
/** Node's timers take at most 2^31 − 1 ms; a longer delay fires after 1 ms (TimeoutOverflowWarning). So
 *  every setting that becomes a timer delay is capped here, where Kafka's LONG would allow more. */
export const TIMER_MS_MAX = INT_MAX;
