// De-duplication for idempotent consumption: a message whose id already completed is skipped, and
// two workers never process the same id at once.
//
//   claim(id)   → 'claimed'  no one has it: it is ours for `leaseMs` (a crashed worker's claim expires)
//               → 'busy'     another worker holds a live claim: wait and ask again
//               → 'done'     it completed less than `ttlMs` ago: skip the message
//   complete    marks it done for `ttlMs`;  release  gives up a claim after a failure, so a retry
//               (here or elsewhere) may claim it again.
//
// The store is the small interface below: the in-memory LRU here, or anything with an atomic
// "set if absent with expiry" (a Redis SET NX PX, a SQL row with a unique key).
import { systemClock, type Clock } from '../runtime/clock.js';
import { sleep } from './backoff.js';
import { integerOption } from './options.js';

export type ClaimResult = 'claimed' | 'busy' | 'done';

export interface DedupStore {
  claim(id: string, owner: string, leaseMs: number): Promise<ClaimResult>;
  complete(id: string, owner: string, ttlMs: number): Promise<void>;
  release(id: string, owner: string): Promise<void>;
}

interface Entry {
  state: 'claimed' | 'done';
  owner: string;
  expiresAtMs: number;
}

/** A bounded in-memory store: the least recently used ids are forgotten beyond `maxEntries`. */
export class MemoryDedupStore implements DedupStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  /** `clock` (or, as before, a bare `now` function) is where expiry reads the time. */
  constructor(options: { maxEntries?: number; now?: () => number; clock?: Clock } = {}) {
    this.maxEntries = integerOption('maxEntries', options.maxEntries, 100_000, 1);
    const clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => clock.now());
  }

  private readonly now: () => number;

  get size(): number {
    return this.entries.size;
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.now();
    const entry = this.entries.get(id);
    if (entry && entry.expiresAtMs > now) {
      // Touch: move to the most recently used end.
      this.entries.delete(id);
      this.entries.set(id, entry);
      if (entry.state === 'done') return 'done';
      if (entry.owner !== owner) return 'busy';
    }
    this.entries.delete(id);
    this.entries.set(id, { state: 'claimed', owner, expiresAtMs: now + leaseMs });
    this.evict();
    return 'claimed';
  }

  async complete(id: string, owner: string, ttlMs: number): Promise<void> {
    this.entries.delete(id);
    this.entries.set(id, { state: 'done', owner, expiresAtMs: this.now() + ttlMs });
    this.evict();
  }

  async release(id: string, owner: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry && entry.state === 'claimed' && entry.owner === owner) this.entries.delete(id);
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

export interface DedupOptions<M> {
  /** The message's id (e.g. a payment id from the value, or a header). */
  id(message: M): string;
  store: DedupStore;
  /** How long a completed id is remembered (default 24 h). */
  ttlMs?: number;
  /** How long a claim lasts if its worker dies (default 60 s); keep it above the handler's run time. */
  leaseMs?: number;
  /** How often a 'busy' id is asked about again (default 50 ms). */
  pollMs?: number;
  /** Names this worker in claims (default: pid and a random part). */
  owner?: string;
  /** Called for each skipped duplicate. */
  onDuplicate?(message: M, id: string): void;
}

/** Wraps `handler` so it runs at most once per id (within the TTL) across every worker sharing the store. */
export function deduplicate<M, A extends unknown[]>(
  handler: (message: M, ...rest: A) => Promise<void>,
  options: DedupOptions<M>,
): (message: M, ...rest: A) => Promise<void> {
  const ttlMs = integerOption('ttlMs', options.ttlMs, 24 * 60 * 60 * 1000, 1);
  const leaseMs = integerOption('leaseMs', options.leaseMs, 60_000, 1);
  const pollMs = integerOption('pollMs', options.pollMs, 50, 1);
  const worker = options.owner ?? `worker-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  let runs = 0;
  return async (message: M, ...rest: A) => {
    const id = options.id(message);
    // Each run claims under its own name, so two runs in this process exclude each other too.
    const owner = `${worker}#${runs++}`;
    for (;;) {
      const claim = await options.store.claim(id, owner, leaseMs);
      if (claim === 'done') {
        options.onDuplicate?.(message, id);
        return;
      }
      if (claim === 'claimed') break;
      await sleep(pollMs);
    }
    try {
      await handler(message, ...rest);
    } catch (error) {
      await options.store.release(id, owner).catch(() => undefined);
      throw error;
    }
    await options.store.complete(id, owner, ttlMs);
  };
}
