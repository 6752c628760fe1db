// How big the broker bench's runs are (full, or --quick), and the settings every part of it shares:
// the value sizes and partition counts it runs, kcat's time limit, and the targets.

// Targets from issue 5, on the 2-core machine.
export const TARGET_PRODUCE_MSG_PER_S = 500_000;
export const TARGET_CONSUME_MSG_PER_S = 1_000_000;
export const TARGET_P99_MS = 5;

export interface Scale {
  name: string;
  /** Messages per produce run, by value size. */
  messages: Record<number, number>;
  /** Messages per Node-generator produce run, by value size. */
  floodMessages: Record<number, number>;
  diskMsPerMode: number;
  loopbackMs: number;
  latencyMs: number;
  latencyWarmupMs: number;
}

export const FULL: Scale = {
  name: 'full',
  messages: { 100: 2_000_000, 1024: 500_000 },
  floodMessages: { 100: 4_000_000, 1024: 600_000 },
  diskMsPerMode: 700,
  loopbackMs: 2000,
  latencyMs: 10_000,
  latencyWarmupMs: 1000,
};
export const QUICK: Scale = {
  name: 'quick',
  messages: { 100: 300_000, 1024: 100_000 },
  floodMessages: { 100: 600_000, 1024: 100_000 },
  diskMsPerMode: 250,
  loopbackMs: 1000,
  latencyMs: 3000,
  latencyWarmupMs: 500,
};

export const VALUE_SIZES = [100, 1024] as const;
export const PARTITION_COUNTS = [1, 8] as const;
/** kcat runs are killed after this; a healthy run takes seconds. */
export const KCAT_TIMEOUT_MS = 90_000;
/**
 * Produce requests the Node generator keeps outstanding (librdkafka pipelines up to 5 by default,
 * more here).
 */
export const FLOOD_IN_FLIGHT = 8;
