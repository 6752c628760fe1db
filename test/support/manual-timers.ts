// Timers a test moves by hand (src/broker/services.ts `Timers`), on a ManualClock: `advance` moves the
// clock and runs every timer that comes due, in time order, so a session timeout or a rebalance delay
// takes no real time and happens exactly when the test says.
import type { Timer, Timers } from '../../src/broker/services.js';
import type { ManualClock } from '../../src/runtime/clock.js';

interface Scheduled {
  atMs: number;
  intervalMs: number | null;
  action: () => void;
  cancelled: boolean;
  order: number;
}

export class ManualTimers implements Timers {
  private scheduled: Scheduled[] = [];
  private order = 0;

  constructor(private readonly clock: ManualClock) {}

  after(delayMs: number, action: () => void): Timer {
    return this.add(Math.max(0, delayMs), null, action);
  }

  every(intervalMs: number, action: () => void): Timer {
    return this.add(Math.max(1, intervalMs), Math.max(1, intervalMs), action);
  }

  /** Timers not cancelled and not yet run (an interval counts until cancelled). */
  get pending(): number {
    return this.scheduled.filter((s) => !s.cancelled).length;
  }

  /** Moves the clock `ms` forward, running each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.clock.now() + ms;
    for (;;) {
      this.scheduled = this.scheduled.filter((s) => !s.cancelled);
      const next = this.scheduled.filter((s) => s.atMs <= end).sort((a, b) => a.atMs - b.atMs || a.order - b.order)[0];
      if (next === undefined) break;
      this.clock.set(Math.max(this.clock.now(), next.atMs));
      if (next.intervalMs === null) next.cancelled = true;
      else next.atMs += next.intervalMs;
      next.action();
    }
    this.clock.set(end);
  }

  private add(delayMs: number, intervalMs: number | null, action: () => void): Timer {
    const scheduled: Scheduled = {
      atMs: this.clock.now() + delayMs,
      intervalMs,
      action,
      cancelled: false,
      order: this.order++,
    };
    this.scheduled.push(scheduled);
    return {
      cancel: () => {
        scheduled.cancelled = true;
      },
    };
  }
}
