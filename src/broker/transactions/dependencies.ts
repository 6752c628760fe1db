// Everything the transaction coordinator is given (services.ts has the interfaces). It keeps its state
// in `__transaction_state` through `internalTopics`, checks partitions through `partitions`, writes the
// markers that end a transaction through `markers`, and reaches the group coordinator only through
// `offsets` — the offsets a transaction carries. The broker (broker.ts) builds this at open.
import type {
  InternalPartitions,
  Logger,
  PartitionLookup,
  ProducerIdSource,
  TransactionalOffsets,
  TransactionMarkerWriter,
} from '../services.js';
import type { TransactionSettings } from './settings.js';

export interface TransactionDependencies {
  readonly logger: Logger;
  /** Where `__transaction_state` is created, appended to and read back. */
  readonly internalTopics: InternalPartitions;
  /** Whether a partition a producer adds to its transaction exists. */
  readonly partitions: PartitionLookup;
  readonly markers: TransactionMarkerWriter;
  readonly producerIds: ProducerIdSource;
  readonly offsets: TransactionalOffsets;
  readonly transactionSettings: TransactionSettings;
}
