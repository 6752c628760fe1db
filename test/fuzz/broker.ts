// The broker under fuzz: `sluice start` as a child process on a temp data dir and a free loopback
// port (test/support/sluice-process.ts), its log lines in a file of the temp dir, its resident memory
// sampled from /proc/<pid>/status, and a probe that asks it ApiVersions and Metadata on a fresh
// connection — the "is it still serving?" question the run asks throughout and at the end.
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { freePort, killed, spawnSluice, untilConnected } from '../support/sluice-process.js';

export interface FuzzBroker {
  port: number;
  bootstrap: string;
  child: ChildProcess;
  logPath: string;
  /** The exit code or signal once the child has exited, else null. */
  exited(): string | null;
  stderr(): string;
  /** SIGTERM, and the exit code once it has exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<string>;
}

export async function startFuzzBroker(dataDir: string, logDir: string, name: string, overrides: string[]) {
  const port = await freePort();
  const logPath = join(logDir, `${name}.log`);
  const logFd = openSync(logPath, 'a');
  const child = spawnSluice(port, dataDir, { overrides, stdout: logFd, stderr: 'pipe' });
  closeSync(logFd);
  let stderr = '';
  let exit: string | null = null;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    // The tail is what matters (an uncaught exception's stack); keep it bounded.
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );
  const first = await Promise.race([
    untilConnected(port, 30_000),
    exitedPromise.then(() => {
      const lastLines = readFileSync(logPath, 'utf8').trim().split('\n').slice(-2).join('\n');
      throw new Error(`${name} exited (${exit}) before it listened: ${lastLines.slice(-1500)} ${stderr.slice(-1500)}`);
    }),
  ]);
  first.close();
  const broker: FuzzBroker = {
    port,
    bootstrap: `127.0.0.1:${port}`,
    child,
    logPath,
    exited: () => exit,
    stderr: () => stderr,
    async stop(graceMs = 15_000) {
      if (exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => void killed(child), graceMs);
        await exitedPromise;
        clearTimeout(timer);
      }
      return exit!;
    },
  };
  return broker;
}

/** VmRSS of a process in bytes, or null once it is gone. */
export function residentBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `intervalMs`: min, max, last, and the samples for a coarse profile. */
export class RssSampler {
  readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): void {
    const rss = residentBytes(this.pid);
    if (rss !== null) this.samples.push(rss);
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
  get min(): number {
    return Math.min(...this.samples);
  }
  get max(): number {
    return Math.max(...this.samples);
  }
  get last(): number {
    return this.samples[this.samples.length - 1] ?? 0;
  }
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  problem?: string;
}

/** ApiVersions v3 and Metadata (all topics) on a new connection, each answered within `timeoutMs`. */
export async function probe(port: number, metadataVersion: number, timeoutMs = 10_000): Promise<ProbeResult> {
  const started = performance.now();
  let client: RawClient | undefined;
  try {
    client = await RawClient.connect(port);
    client.request(ApiKey.ApiVersions, 3, 1, { clientSoftwareName: 'fuzz-probe', clientSoftwareVersion: '1' });
    client.request(ApiKey.Metadata, metadataVersion, 2, { topics: null, allowAutoTopicCreation: false });
    const frames = await client.waitForFrames(2, timeoutMs);
    if (frames.length < 2) return { ok: false, latencyMs: performance.now() - started, problem: 'no answer' };
    const versions = RawClient.decode(ApiKey.ApiVersions, 3, frames[0]!);
    const metadata = RawClient.decode(ApiKey.Metadata, metadataVersion, frames[1]!);
    const problem =
      versions.correlationId !== 1 || versions.body.errorCode !== 0
        ? `ApiVersions answered ${JSON.stringify({ id: versions.correlationId, error: versions.body.errorCode })}`
        : metadata.correlationId !== 2 || metadata.body.brokers.length !== 1
          ? `Metadata answered with ${metadata.body.brokers.length} brokers`
          : undefined;
    return { ok: problem === undefined, latencyMs: performance.now() - started, ...(problem ? { problem } : {}) };
  } catch (error) {
    return { ok: false, latencyMs: performance.now() - started, problem: (error as Error).message };
  } finally {
    client?.close();
  }
}

export interface LogSummary {
  lines: number;
  byLevel: Map<string, number>;
  /** Messages at warn and above, with how often each appeared and one example line. */
  messages: Map<string, { level: string; count: number; example: string }>;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Reads the broker's JSON log lines and groups the warnings and errors by message. */
export function summarizeLog(path: string): LogSummary {
  const summary: LogSummary = { lines: 0, byLevel: new Map(), messages: new Map() };
  const text = readFileSync(path, 'utf8');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    summary.lines++;
    const levelMatch = /"level":(\d+)/.exec(line);
    const level = LEVELS[Number(levelMatch?.[1] ?? 30)] ?? 'info';
    summary.byLevel.set(level, (summary.byLevel.get(level) ?? 0) + 1);
    if (level === 'trace' || level === 'debug' || level === 'info') continue;
    // Group "closing connection: request size 12 outside [...]" with its siblings: numbers out.
    const message = (/"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line).replace(/-?\d+/g, 'N');
    const key = `${level} ${message}`;
    const entry = summary.messages.get(key);
    if (entry) entry.count++;
    else summary.messages.set(key, { level, count: 1, example: line.slice(0, 2000) });
  }
  return summary;
}
