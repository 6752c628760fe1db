// `log.flush.policy`: when an append counts as done.
//
//   sync          (default) the append's promise resolves after its bytes are fdatasync'ed. Appends
//                 that arrive while a flush runs share the next one (group commit). A crash of the
//                 process or the machine loses nothing that was acknowledged.
//   interval:<ms> the promise resolves once the bytes are written to the page cache; a timer
//                 fdatasyncs every <ms>. A process crash loses nothing (the kernel has the pages);
//                 a machine crash or power loss loses at most the last <ms> of acknowledged appends.
//   os            the promise resolves after the write; Sluice fdatasyncs only when a segment rolls
//                 and on clean shutdown. A process crash loses nothing; a machine crash loses what
//                 the kernel had not written back (Linux: typically up to ~30 s, dirty_expire_centisecs).
//
// In every policy, recovery after any crash keeps a prefix of the acknowledged appends and never
// serves a torn or corrupt batch.

import { parseFlushPolicyText, settingNamed, valueProblem, type FlushPolicyText } from '../runtime/settings.js';
import { StorageError } from './errors.js';

/** The syntax (and its bounds) is the settings registry's; this module says what each policy does. */
export type FlushPolicy = FlushPolicyText;

export function parseFlushPolicy(text: string): FlushPolicy {
  const policy = parseFlushPolicyText(text);
  if (policy !== null) return policy;
  throw new StorageError('INVALID_CONFIG', valueProblem(settingNamed('log.flush.policy'), text)!);
}

export function formatFlushPolicy(policy: FlushPolicy): string {
  return policy.kind === 'interval' ? `interval:${policy.intervalMs}` : policy.kind;
}
