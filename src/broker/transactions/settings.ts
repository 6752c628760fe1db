// The transaction coordinator's settings (Kafka names, Kafka defaults) and Sluice's bounds on the
// memory a client can make it hold.

/** Kafka's `transaction.state.log.num.partitions`. */
const DEFAULT_STATE_PARTITIONS = 50;
/** Kafka's `transactional.id.expiration.ms` (7 days): an id idle this long, with no transaction open, is forgotten. */
const DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS = 7 * 24 * 60 * 60 * 1000;
/** Kafka's `transaction.abort.timed.out.transaction.cleanup.interval.ms`. */
const DEFAULT_TIMEOUT_CHECK_INTERVAL_MS = 10_000;
/** Transactional ids kept in memory. Each costs ~0.5 KiB plus its partitions; 100 000 bound the coordinator
 *  to ~50 MiB while far above a deployment's producer instances. Past it, new ids are refused
 *  (COORDINATOR_NOT_AVAILABLE) rather than letting clients that invent ids grow the broker. */
const DEFAULT_TRANSACTIONAL_IDS_MAX = 100_000;
/** Partitions one transaction may span; an AddPartitionsToTxn past it is refused. Kafka has no such limit,
 *  but each partition costs memory here and a marker at the end. */
export const PARTITIONS_PER_TRANSACTION_MAX = 10_000;
/** Kafka's RecordBatch.NO_PRODUCER_EPOCH − 1: an epoch this high takes a new producer id instead. */
export const EPOCH_MAX = 32766;

export interface TransactionSettings {
  statePartitions: number;
  timeoutCheckIntervalMs: number;
  transactionalIdsMax: number;
  transactionalIdExpirationMs: number;
  /** `transaction.max.timeout.ms`: the longest transaction timeout an InitProducerId may ask for. */
  maxTimeoutMs: number;
}

function integerSetting(properties: Record<string, string>, name: string, fallback: number, min: number): number {
  const raw = properties[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return value;
}

/** Reads the settings from the broker's properties (`transaction.max.timeout.ms` is parsed by config.ts). */
export function transactionSettingsFrom(config: {
  properties: Record<string, string>;
  transactionMaxTimeoutMs: number;
}): TransactionSettings {
  const properties = config.properties;
  return {
    statePartitions: integerSetting(properties, 'transaction.state.log.num.partitions', DEFAULT_STATE_PARTITIONS, 1),
    timeoutCheckIntervalMs: integerSetting(
      properties,
      'transaction.abort.timed.out.transaction.cleanup.interval.ms',
      DEFAULT_TIMEOUT_CHECK_INTERVAL_MS,
      1,
    ),
    transactionalIdsMax: integerSetting(properties, 'sluice.transactional.ids.max', DEFAULT_TRANSACTIONAL_IDS_MAX, 1),
    transactionalIdExpirationMs: integerSetting(
      properties,
      'transactional.id.expiration.ms',
      DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS,
      1,
    ),
    maxTimeoutMs: config.transactionMaxTimeoutMs,
  };
}
