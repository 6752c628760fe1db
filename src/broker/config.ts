// The broker's part of the settings. The CLI gathers every setting from flags, SLUICE_* environment
// variables and a --config properties file into one `properties` map (Kafka names, string values);
// this module reads the broker's part through the settings registry (src/runtime/settings.ts), which
// declares each one's default and bounds. Topic configs are read by topic-config.ts from the same map.
import { readBoolean, readInteger, readString } from '../runtime/settings.js';

export { ConfigError } from '../runtime/settings.js';

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
  /** `transaction.check.delay.ms`: how long a half message may stay undecided before its first check
   *  (docs/half-messages.md). */
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

/** Reads and checks the broker settings (defaults and bounds: the settings registry); the advertised
 *  address is filled in by the server. Throws ConfigError naming a bad setting. */
export function brokerConfigFrom(
  properties: Record<string, string>,
  advertised: { host: string; port: number },
): BrokerConfig {
  return {
    nodeId: readInteger(properties, 'node.id'),
    dataDir: readString(properties, 'log.dirs'),
    advertisedHost: advertised.host,
    advertisedPort: advertised.port,
    numPartitions: readInteger(properties, 'num.partitions'),
    autoCreateTopics: readBoolean(properties, 'auto.create.topics.enable'),
    transactionMaxTimeoutMs: readInteger(properties, 'transaction.max.timeout.ms'),
    producerIdExpirationMs: readInteger(properties, 'producer.id.expiration.ms'),
    fetchMaxBytes: readInteger(properties, 'fetch.max.bytes'),
    transactionCheckDelayMs: readInteger(properties, 'transaction.check.delay.ms'),
    transactionCheckMax: readInteger(properties, 'transaction.check.max'),
    transactionCheckBackoffMaxMs: readInteger(properties, 'sluice.transaction.check.backoff.max.ms'),
    halfLogPartitions: readInteger(properties, 'sluice.half.log.num.partitions'),
    halfPendingMax: readInteger(properties, 'sluice.half.pending.max'),
    properties,
  };
}
