// Drives the fuzzer's connections: one loop per slot writes that slot's units (frames.ts) to the
// broker, reads and counts every response, and paces itself by the answers — so the broker's own
// backpressure (in-flight cap, output buffer cap) is what limits the rate, never an unbounded queue
// on either side. What happens on a connection is counted; nothing the broker does to a fuzz
// connection (closing it, leaving it unanswered) is an error in itself, except answering out of
// order: while a connection has carried only well-formed frames, every response's correlation id
// must be the next one expected.
//
// Pacing after a unit:
//   only well-formed frames   wait until at most UNANSWERED_MAX are unanswered; no answer for
//                             STALL_MS (parked long-polls, joins waiting for a rebalance) → drop it
//   anything else             wait until everything well-formed is answered, then QUIET_MS for the
//                             broker to close the connection (as it should for an unreadable frame)
import { connect, type Socket } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Frame, FrameSource, Unit } from './frames.js';
import { apiName, type FuzzStats } from './stats.js';

const UNANSWERED_MAX = 128;
const STALL_MS = 1500;
const QUIET_MS = 20;
/** Side connections that only idle (unit "idle"), open at once across all slots. */
const IDLE_CONNECTIONS_MAX = 16;
/** Units per slot kept for the replay file written when a run fails. */
const RECENT_UNITS = 4;

export interface RecentUnit {
  slot: number;
  unit: string;
  frames: Array<{ kind: string; api: string; version: number; ops: string[]; hex: string }>;
}

class FuzzConnection {
  closed = false;
  private closedByUs = false;
  /** Correlation ids of well-formed frames still to be answered, oldest first. */
  private readonly expected: number[] = [];
  private unansweredCount = 0;
  /** False once a frame that is not well-formed went out: framing may then differ from ours. */
  private intact = true;
  private lastFrame: Frame | null = null;
  private wake: (() => void) | null = null;
  // Response framing: the 4-byte size and 4-byte correlation id of the frame being read, then its rest.
  private readonly head = Buffer.alloc(8);
  private headFill = 0;
  private skip = 0;

  private constructor(
    private readonly socket: Socket,
    private readonly stats: FuzzStats,
  ) {
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      if (!this.closedByUs) {
        stats.connections.closedByBroker++;
        if (this.intact && this.lastFrame) {
          const key = `${apiName(this.lastFrame.apiKey)} v${this.lastFrame.version}`;
          stats.closedAfterWellFormed.set(key, (stats.closedAfterWellFormed.get(key) ?? 0) + 1);
        }
      }
      this.poke();
    });
    socket.on('drain', () => this.poke());
  }

  static open(port: number, stats: FuzzStats): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.setNoDelay(true);
      socket.once('connect', () => {
        stats.connections.opened++;
        resolve(new FuzzConnection(socket, stats));
      });
      socket.once('error', reject);
    });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Resolves on data, drain or close, or after `ms`; true unless it timed out. */
  private event(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  private onData(data: Buffer): void {
    this.stats.responseBytes += data.length;
    let at = 0;
    while (at < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(8 - this.headFill, data.length - at);
      data.copy(this.head, this.headFill, at, at + n);
      this.headFill += n;
      at += n;
      if (this.headFill < 8) break;
      this.headFill = 0;
      this.skip = this.head.readInt32BE(0) - 4;
      this.onResponse(this.head.readInt32BE(4));
    }
    this.poke();
  }

  private onResponse(correlationId: number): void {
    this.stats.responses++;
    if (!this.intact) return;
    const expected = this.expected.shift();
    if (expected === undefined || expected !== correlationId) {
      this.stats.orderViolations.push(
        `response with correlation id ${correlationId} where ${expected ?? 'none'} was expected`,
      );
      this.intact = false;
      return;
    }
    this.unansweredCount--;
  }

  private noteSent(frames: readonly Frame[]): void {
    for (const frame of frames) {
      this.stats.count(frame);
      this.lastFrame = frame;
      const wellFormed = frame.kind === 'valid' || frame.kind === 'bad-batch';
      if (!wellFormed) this.intact = false;
      if (this.intact && frame.answered) {
        this.expected.push(frame.bytes.readInt32BE(8));
        this.unansweredCount++;
      }
    }
  }

  /** Writes `bytes`, waiting for 'drain' when the socket's buffer is full; false if it closed or stalled. */
  private async write(bytes: Buffer): Promise<boolean> {
    if (this.closed) return false;
    this.stats.bytesSent += bytes.length;
    if (this.socket.write(bytes)) return true;
    while (!this.closed && this.socket.writableNeedDrain) {
      if (!(await this.event(STALL_MS))) {
        this.stall();
        return false;
      }
    }
    return !this.closed;
  }

  private stall(): void {
    this.stats.connections.droppedStalled++;
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closedByUs = true;
    this.socket.destroy();
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.closedByUs = true;
    this.socket.end();
    if (!(await this.event(200))) this.socket.destroy();
  }

  async perform(unit: Exclude<Unit, { type: 'idle' } | { type: 'reconnect' }>): Promise<void> {
    const bytes = Buffer.concat(unit.frames.map((f) => f.bytes));
    if (unit.type === 'single' || unit.type === 'pipeline') {
      this.noteSent(unit.frames);
      await this.write(bytes);
    } else if (unit.type === 'split') {
      this.noteSent(unit.frames);
      let from = 0;
      for (const cut of [...unit.cuts, bytes.length]) {
        if (!(await this.write(bytes.subarray(from, cut)))) break;
        from = cut;
        await yieldToLoop();
      }
    } else if (unit.type === 'cut') {
      this.noteSent(unit.frames);
      const last = unit.frames[unit.frames.length - 1]!;
      await this.write(bytes.subarray(0, bytes.length - last.bytes.length + unit.keep));
      this.stats.connections.cutMidFrame++;
      if (unit.halfClose) await this.end();
      else this.destroy();
      return;
    }
    const allWellFormed = unit.frames.every((f) => f.kind === 'valid' || f.kind === 'bad-batch');
    await this.settle(allWellFormed);
  }

  private async settle(allWellFormed: boolean): Promise<void> {
    const window = allWellFormed ? UNANSWERED_MAX : 0;
    while (!this.closed && this.intact && this.unansweredCount > window) {
      if (!(await this.event(STALL_MS))) return this.stall();
    }
    if (!allWellFormed) {
      // Give the broker a moment to close the connection before the next unit goes to it.
      while (!this.closed && (await this.event(QUIET_MS)));
    }
  }

  /** At the end of a slot: wait for the answers still due (bounded), then close. */
  async finish(): Promise<void> {
    while (!this.closed && this.intact && this.unansweredCount > 0) {
      if (!(await this.event(STALL_MS))) break;
    }
    await this.end();
  }
}

export interface DriverOptions {
  port: number;
  stats: FuzzStats;
  /** True once the run must stop (duration over, broker gone). */
  stopped: () => boolean;
}

/** Runs the slots' frame sources to the end; keeps the last units of each for a replay file. */
export class FuzzDriver {
  private idleOpen = 0;
  private readonly idleSockets = new Set<Socket>();
  /** The last units of each slot, described only when a replay file is written. */
  readonly recent: Unit[][] = [];

  constructor(private readonly options: DriverOptions) {}

  async runSlot(slot: number, source: FrameSource): Promise<void> {
    const { port, stats, stopped } = this.options;
    const recent: Unit[] = (this.recent[slot] = []);
    let connection: FuzzConnection | null = null;
    for (;;) {
      if (stopped()) break;
      const unit = source.next();
      if (!unit) break;
      stats.units.set(unit.type, (stats.units.get(unit.type) ?? 0) + 1);
      recent.push(unit);
      if (recent.length > RECENT_UNITS) recent.shift();
      if (unit.type === 'idle') {
        this.idle(unit.bytes, unit.holdMs);
        continue;
      }
      if (unit.type === 'reconnect') {
        await connection?.end();
        connection = null;
        continue;
      }
      if (!connection || connection.closed) {
        try {
          connection = await FuzzConnection.open(port, stats);
        } catch {
          stats.connections.refused++;
          if (stopped()) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
      }
      await connection.perform(unit);
      if (unit.type === 'cut') connection = null;
    }
    await connection?.finish();
  }

  private idle(bytes: Buffer, holdMs: number): void {
    if (this.idleOpen >= IDLE_CONNECTIONS_MAX) return;
    this.idleOpen++;
    this.options.stats.connections.idle++;
    const socket = connect({ port: this.options.port, host: '127.0.0.1' });
    this.idleSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('connect', () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    const timer = setTimeout(() => socket.destroy(), holdMs);
    socket.once('close', () => {
      clearTimeout(timer);
      this.idleOpen--;
      this.idleSockets.delete(socket);
    });
  }

  /** The recent units of every slot, with their bytes in hex, for the replay file. */
  describeRecent(): RecentUnit[] {
    return this.recent.flatMap((units, slot) => units.map((unit) => describe(slot, unit)));
  }

  /** Closes the side connections still idling. */
  closeIdle(): void {
    for (const socket of this.idleSockets) socket.destroy();
  }
}

function describe(slot: number, unit: Unit): RecentUnit {
  const frames = 'frames' in unit ? unit.frames : [];
  return {
    slot,
    unit: unit.type,
    frames: frames.slice(-64).map((f) => ({
      kind: f.kind,
      api: apiName(f.apiKey),
      version: f.version,
      ops: f.ops,
      hex: f.bytes.subarray(0, 4096).toString('hex'),
    })),
  };
}
