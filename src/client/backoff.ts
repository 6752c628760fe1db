// Delays between attempts, shared by the network layer (retriable broker errors) and the
// consumer's handler retries.

export type BackoffPolicy =
  /** Fixed list: attempt n waits delaysMs[n-1]; past the end the last entry repeats. */
  | { delaysMs: readonly number[] }
  /** Exponential: initialMs · multiplier^(n-1), capped at maxMs, with ±jitter (0..1) randomisation. */
  | { initialMs: number; maxMs?: number; multiplier?: number; jitter?: number };

/** How long to wait before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  if ('delaysMs' in policy) {
    const list = policy.delaysMs;
    if (list.length === 0) return 0;
    return list[Math.min(attempt, list.length) - 1]!;
  }
  const multiplier = policy.multiplier ?? 2;
  const maxMs = policy.maxMs ?? 30_000;
  const base = Math.min(maxMs, policy.initialMs * multiplier ** Math.max(0, attempt - 1));
  const jitter = policy.jitter ?? 0.2;
  const factor = 1 - jitter + 2 * jitter * random();
  return Math.max(0, Math.round(Math.min(maxMs, base * factor)));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
