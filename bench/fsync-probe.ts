// Worker thread: the disk's own fdatasync latency while the broker's latency run goes on. Every
// `intervalMs` it appends 4 KiB to its own file in the broker's file system and fdatasyncs it, and
// reports the round times at the end. 100 small syncs a second beside the broker's thousands: a
// control measurement, so a slow p99 can be told apart from a slow disk at that moment.
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { path, durationMs, intervalMs } = workerData as { path: string; durationMs: number; intervalMs: number };
const buffer = Buffer.alloc(4096, 0x70);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const rounds: number[] = [];
const fd = openSync(path, 'w');
try {
  const end = performance.now() + durationMs;
  let position = 0;
  while (performance.now() < end) {
    const start = performance.now();
    writeSync(fd, buffer, 0, buffer.length, position);
    position += buffer.length;
    fdatasyncSync(fd);
    const took = performance.now() - start;
    rounds.push(took);
    Atomics.wait(sleeper, 0, 0, Math.max(0, intervalMs - took));
  }
} finally {
  closeSync(fd);
  rmSync(path, { force: true });
}
parentPort?.postMessage(rounds);
