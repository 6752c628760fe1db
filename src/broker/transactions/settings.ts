// The transaction coordinator's settings (Kafka names and defaults, declared once in the settings
// registry, src/runtime/broker-settings.ts) and Sluice's bounds on what one transaction may hold.
import { readInteger } from '../../runtime/settings.js';

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

/** Reads the settings from the broker's properties (`transaction.max.timeout.ms` is parsed by config.ts). */
export function transactionSettingsFrom(config: {
  properties: Record<string, string>;
  transactionMaxTimeoutMs: number;
}): TransactionSettings {
  const properties = config.properties;
  return {
    statePartitions: readInteger(properties, 'transaction.state.log.num.partitions'),
    timeoutCheckIntervalMs: readInteger(properties, 'transaction.abort.timed.out.transaction.cleanup.interval.ms'),
    transactionalIdsMax: readInteger(properties, 'sluice.transactional.ids.max'),
    transactionalIdExpirationMs: readInteger(properties, 'transactional.id.expiration.ms'),
    maxTimeoutMs: config.transactionMaxTimeoutMs,
  };
}
