// The half-message settings (docs/half-messages.md lists them; config.ts parses and bounds them) and
// the check backoff they define.

export interface HalfMessageSettings {
  /** `transaction.check.delay.ms`: the first check this long after the half message. */
  checkDelayMs: number;
  /** `transaction.check.max`: checks sent before the message is abandoned. */
  checkMax: number;
  /** `sluice.transaction.check.backoff.max.ms`: the longest wait between two checks. */
  checkBackoffMaxMs: number;
  /** `sluice.half.log.num.partitions`: partitions of the channel topics when Sluice creates them. */
  logPartitions: number;
  /** `sluice.half.pending.max`: undecided messages held; past it new ones are abandoned at once. */
  pendingMax: number;
}

/** The broker configuration fields the settings come from. */
export interface HalfMessageConfig {
  transactionCheckDelayMs: number;
  transactionCheckMax: number;
  transactionCheckBackoffMaxMs: number;
  halfLogPartitions: number;
  halfPendingMax: number;
}

export function halfMessageSettingsFrom(config: HalfMessageConfig): HalfMessageSettings {
  return {
    checkDelayMs: config.transactionCheckDelayMs,
    checkMax: config.transactionCheckMax,
    checkBackoffMaxMs: config.transactionCheckBackoffMaxMs,
    logPartitions: config.halfLogPartitions,
    pendingMax: config.halfPendingMax,
  };
}

/** The wait after check `attempt` (1-based): min(delay × 2^(attempt−1), backoff max). */
export function waitAfterCheckMs(settings: HalfMessageSettings, attempt: number): number {
  const exponent = Math.min(attempt - 1, 52);
  return Math.min(settings.checkDelayMs * 2 ** exponent, settings.checkBackoffMaxMs);
}
