// What this machine can do without the broker, measured in the same run as the broker figures so
// the two can be compared as ratios: facts (CPU, memory, disk, versions), raw sequential
// write + fdatasync throughput on the file system that holds the broker's data, and loopback TCP
// throughput between two threads.
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  diskFreeGiB: number;
  node: string;
  kcat: string;
}

/** `MachineFacts.kcat` when kcat is not on the PATH. */
export const KCAT_MISSING = 'kcat not found';

export function machineFacts(dataParent: string): MachineFacts {
  const cpu = cpus();
  const fs = statfsSync(dataParent);
  let kcat = KCAT_MISSING;
  try {
    // `kcat -V` prints "Version 1.7.1 (JSON, ..., librdkafka 2.0.2 builtin.features=...)".
    const text = execFileSync('kcat', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    const version = /Version (\S+)/.exec(text)?.[1] ?? '?';
    const librdkafka = /librdkafka (\S+)/.exec(text)?.[1] ?? '?';
    kcat = `kcat ${version}, librdkafka ${librdkafka}`;
  } catch {
    // reported as not found
  }
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: totalmem() / 2 ** 30,
    diskFreeGiB: (fs.bavail * fs.bsize) / 2 ** 30,
    node: process.version,
    kcat,
  };
}

export interface DiskResult {
  label: string;
  writeBytes: number;
  writesPerSync: number;
  mbPerSecond: number;
  syncsPerSecond: number;
  /** Mean time of one round of writes + fdatasync (ms). */
  roundMs: number;
  /** Percentiles of the round time (ms): the disk's own latency floor for an acknowledged produce. */
  roundP50Ms: number;
  roundP99Ms: number;
  roundMaxMs: number;
  /** CPU time (user + system, this process) per MB written: the kernel's cost of durable writes. */
  cpuMsPerMb: number;
}

/**
 * Sequential appends to a new file with fdatasync, the way a segment grows under `log.flush.policy=sync`:
 * `writesPerSync` writes of `writeBytes`, then one fdatasync (1 = a sync per write; more = group commit
 * folding several writes into one sync). Synchronous calls, so the figure is the disk's, not the
 * thread pool's. Bounded by time and by bytes.
 */
export function diskWriteSync(
  directory: string,
  writeBytes: number,
  writesPerSync: number,
  durationMs: number,
  bytesMax: number,
): DiskResult {
  const path = join(directory, `disk-bench-${writeBytes}-${writesPerSync}.tmp`);
  const buffer = Buffer.alloc(writeBytes, 0x61);
  const fd = openSync(path, 'w');
  let position = 0;
  const rounds: number[] = [];
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let elapsedMs = 0;
  try {
    do {
      const roundStart = performance.now();
      for (let i = 0; i < writesPerSync; i++) {
        writeSync(fd, buffer, 0, writeBytes, position);
        position += writeBytes;
      }
      fdatasyncSync(fd);
      const now = performance.now();
      rounds.push(now - roundStart);
      elapsedMs = now - start;
    } while (elapsedMs < durationMs && position < bytesMax);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  const cpu = process.cpuUsage(cpuBefore);
  const syncs = rounds.length;
  const sorted = Float64Array.from(rounds).sort();
  const size = writeBytes >= 1024 * 1024 ? `${writeBytes / 1024 / 1024} MiB` : `${writeBytes / 1024} KiB`;
  return {
    label: writesPerSync === 1 ? `${size} write + fdatasync` : `${writesPerSync} x ${size} writes + 1 fdatasync`,
    writeBytes,
    writesPerSync,
    mbPerSecond: position / (elapsedMs / 1000) / 1e6,
    syncsPerSecond: syncs / (elapsedMs / 1000),
    roundMs: elapsedMs / syncs,
    roundP50Ms: sorted[Math.floor(syncs * 0.5)]!,
    roundP99Ms: sorted[Math.min(syncs - 1, Math.floor(syncs * 0.99))]!,
    roundMaxMs: sorted[syncs - 1]!,
    cpuMsPerMb: (cpu.user + cpu.system) / 1000 / (position / 1e6),
  };
}

/** Loopback TCP: a worker thread writes 64 KiB buffers for `durationMs`; this thread reads and counts. */
export async function loopbackTcp(
  durationMs: number,
): Promise<{ mbPerSecond: number; bytes: number; seconds: number }> {
  let received = 0;
  let first = 0;
  let last = 0;
  const server = createServer((socket) => {
    socket.on('data', (data: Buffer) => {
      if (received === 0) first = performance.now();
      received += data.length;
      last = performance.now();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const worker = new Worker(new URL('./loopback-sender.js', import.meta.url), {
      workerData: { port, durationMs, chunkBytes: 64 * 1024 },
    });
    const outcome = await new Promise<{ sent?: number; error?: string }>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('loopback sender did not finish')), durationMs + 10_000);
      worker.once('message', (message: { sent?: number; error?: string }) => {
        clearTimeout(guard);
        resolve(message);
      });
      worker.once('error', (error) => {
        clearTimeout(guard);
        reject(error);
      });
    });
    await worker.terminate();
    if (outcome.error !== undefined) throw new Error(`loopback sender: ${outcome.error}`);
    // The sender's end() callback fires when its data is handed to the kernel; give the reader a
    // moment to drain the socket buffer before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    server.close();
  }
  const seconds = (last - first) / 1000;
  return { mbPerSecond: received / seconds / 1e6, bytes: received, seconds };
}

/**
 * How late a 1 ms timer fires in an otherwise idle event loop over `durationMs`: the scheduling noise
 * of this machine (a shared or virtual machine shows several ms at the tail), which every latency
 * figure below carries too.
 */
export async function timerLateness(durationMs: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number }> {
  const lateness: number[] = [];
  const end = performance.now() + durationMs;
  await new Promise<void>((resolve) => {
    let last = performance.now();
    const tick = (): void => {
      const now = performance.now();
      lateness.push(Math.max(0, now - last - 1));
      last = now;
      if (now < end) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 1);
  });
  const sorted = Float64Array.from(lateness).sort();
  return {
    p50Ms: sorted[Math.floor(sorted.length * 0.5)]!,
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!,
    maxMs: sorted[sorted.length - 1]!,
  };
}

/** Busy CPU seconds of the whole machine so far, all cores (/proc/stat: everything but idle and iowait). */
export function machineBusyCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

/** The load average: the machine may be shared, and other work skews every figure. */
export function loadAverage(): string {
  const [one, five] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return `${one} (1 min), ${five} (5 min)`;
}

/** Starts the fdatasync probe (fsync-probe.ts) for `durationMs`; resolves with its round-time percentiles. */
export function fsyncProbe(
  directory: string,
  durationMs: number,
): Promise<{ count: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const worker = new Worker(new URL('./fsync-probe.js', import.meta.url), {
    workerData: { path: join(directory, 'fsync-probe.tmp'), durationMs, intervalMs: 10 },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (rounds: number[]) => {
      const sorted = Float64Array.from(rounds).sort();
      const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
      resolve({ count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] ?? NaN });
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
