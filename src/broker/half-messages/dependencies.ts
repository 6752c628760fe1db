// Everything the half-message service is given (services.ts has the interfaces). It reads and writes
// its channel topics through `partitions`, is woken by appends to them through `appends`, and moves a
// committed message into its target through `producer` — the produce path a client's batch takes, so
// the target's checks apply. The broker (broker.ts) builds this at open.
import type { AppendWatcher, ClientProducer, InternalPartitions, Logger } from '../services.js';
import type { HalfMessageSettings } from './settings.js';

export interface HalfMessageDependencies {
  readonly logger: Logger;
  /** The channel topics (created, appended to, read) and the targets (looked up, read). */
  readonly partitions: InternalPartitions;
  readonly appends: AppendWatcher;
  readonly producer: ClientProducer;
  readonly halfMessageSettings: HalfMessageSettings;
}
