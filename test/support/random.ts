// Seeded pseudo-random numbers for property tests. Every randomized test prints its seed on failure
// and can be replayed with SLUICE_SEED=<seed>.

export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32: uniform 32-bit integers. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((this.next() / 2 ** 32) * (max - min + 1));
  }
  chance(probability: number): boolean {
    return this.next() / 2 ** 32 < probability;
  }
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

export function seedFromEnvironment(): number {
  const fromEnv = process.env.SLUICE_SEED;
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

/** Runs `body` with a seeded Random; on failure, rethrows with the seed in the message. */
export function withSeed(name: string, body: (random: Random) => void): void {
  const seed = seedFromEnvironment();
  try {
    body(new Random(seed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name} failed with SLUICE_SEED=${seed}: ${message}`, { cause: error });
  }
}
