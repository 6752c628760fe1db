// Broker settings with Kafka's names. The CLI gathers them from flags, SLUICE_* environment variables
// and a --config properties file into one `properties` map; this module reads the broker's part.
// Storage (`log.*`) settings are read by storage/limits.ts and topic-config.ts from the same map.

export interface BrokerConfig {
  /** `node.id`: this broker's id in Metadata; stored in meta.properties on first start. */
  nodeId: number;
  /** `log.dirs` / `--data-dir`: where partitions and broker state live. */
  dataDir: string;
  /** Host and port clients are told to connect to (Metadata brokers). Set from the listener when not given. */
  advertisedHost: string;
  advertisedPort: number;
  /** `num.partitions`: partitions of an auto-created topic, and CreateTopics' default (-1). */
  numPartitions: number;
  /** `auto.create.topics.enable`: Metadata/Produce may create unknown topics. */
  autoCreateTopics: boolean;
  /** `transaction.max.timeout.ms`: largest transaction timeout InitProducerId accepts (Kafka: 15 min). */
  transactionMaxTimeoutMs: number;
  /** `producer.id.expiration.ms`: an idempotent producer idle this long is forgotten (Kafka: 1 day). */
  producerIdExpirationMs: number;
  /** `fetch.max.bytes`: the most record bytes one Fetch response carries, whatever the client asks
   *  (Kafka: 55 MiB). Bounds the memory one request can make the broker hold. */
  fetchMaxBytes: number;
  /** `transaction.check.delay.ms`: how long a half message may stay undecided before its first check (docs/half-messages.md). */
  transactionCheckDelayMs: number;
  /** `transaction.check.max`: checks sent before an undecided half message is rolled back and recorded as abandoned. */
  transactionCheckMax: number;
  /** `sluice.transaction.check.backoff.max.ms`: check n is followed by a wait of min(delay × 2^(n−1), this). */
  transactionCheckBackoffMaxMs: number;
  /** `sluice.half.log.num.partitions`: partitions of `__sluice_half` and `__sluice_half_op` when they are created. */
  halfLogPartitions: number;
  /** `sluice.half.pending.max`: undecided half messages the broker tracks; past it a new half message is
   *  abandoned at once (reason "too many pending half messages"). Bounds the broker's memory. */
  halfPendingMax: number;
  /** Every Kafka-named setting as given (strings), including `log.*` defaults for topics. */
  properties: Record<string, string>;
}

export const brokerConfigDefaults = {
  'node.id': '0',
  'log.dirs': './data',
  'num.partitions': '1',
  'auto.create.topics.enable': 'true',
  'transaction.max.timeout.ms': '900000',
  'producer.id.expiration.ms': '86400000',
  'fetch.max.bytes': '57671680',
  'transaction.check.delay.ms': '6000',
  'transaction.check.max': '15',
  'sluice.transaction.check.backoff.max.ms': '60000',
  'sluice.half.log.num.partitions': '4',
  'sluice.half.pending.max': '100000',
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function integer(
  properties: Record<string, string>,
  name: keyof typeof brokerConfigDefaults,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = properties[name] ?? brokerConfigDefaults[name];
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      max === Number.MAX_SAFE_INTEGER
        ? `${name} must be an integer >= ${min}, got "${raw}"`
        : `${name} must be an integer in [${min}, ${max}], got "${raw}"`,
    );
  }
  return value;
}

function boolean(properties: Record<string, string>, name: keyof typeof brokerConfigDefaults): boolean {
  const raw = (properties[name] ?? brokerConfigDefaults[name]).toLowerCase();
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  return raw === 'true';
}

/** Reads and checks the broker settings; the advertised address is filled in by the server. */
export function brokerConfigFrom(
  properties: Record<string, string>,
  advertised: { host: string; port: number },
): BrokerConfig {
  return {
    nodeId: integer(properties, 'node.id', 0),
    dataDir: properties['log.dirs'] ?? properties['log.dir'] ?? brokerConfigDefaults['log.dirs'],
    advertisedHost: advertised.host,
    advertisedPort: advertised.port,
    numPartitions: integer(properties, 'num.partitions', 1),
    autoCreateTopics: boolean(properties, 'auto.create.topics.enable'),
    transactionMaxTimeoutMs: integer(properties, 'transaction.max.timeout.ms', 1),
    producerIdExpirationMs: integer(properties, 'producer.id.expiration.ms', 1),
    fetchMaxBytes: integer(properties, 'fetch.max.bytes', 1024),
    // The check delays are setTimeout delays: at most 2^31 − 1 ms. 1000 checks or channel partitions
    // are far past any use; the caps keep a typo from creating thousands of logs or retrying for ever.
    transactionCheckDelayMs: integer(properties, 'transaction.check.delay.ms', 1, 2 ** 31 - 1),
    transactionCheckMax: integer(properties, 'transaction.check.max', 1, 1000),
    transactionCheckBackoffMaxMs: integer(properties, 'sluice.transaction.check.backoff.max.ms', 1, 2 ** 31 - 1),
    halfLogPartitions: integer(properties, 'sluice.half.log.num.partitions', 1, 1000),
    halfPendingMax: integer(properties, 'sluice.half.pending.max', 1, 10_000_000),
    properties,
  };
}
