// Everything the group coordinator is given (services.ts has the interfaces): it keeps its state in
// `__consumer_offsets` through `internalTopics`, and reads only its own settings. It is handed neither
// the broker nor another service; the broker (broker.ts) builds this at open.
import type { InternalPartitions, Logger } from '../services.js';
import type { GroupSettings } from './limits.js';

export interface GroupDependencies {
  readonly logger: Logger;
  /** Where `__consumer_offsets` is created, appended to and read back. */
  readonly internalTopics: InternalPartitions;
  readonly groupSettings: GroupSettings;
}
