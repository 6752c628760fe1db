// Child processes of the broker bench: the broker itself (`sluice start` from dist) and kcat runs,
// with the CPU time each used, read from /proc (Linux): the broker's own utime+stime while it runs,
// and a finished kcat's through this process's cutime+cstime (children's time, counted once reaped).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux we run on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;
const BROKER_START_TIMEOUT_MS = 20_000;
const BROKER_STOP_TIMEOUT_MS = 20_000;
/** GC pauses remembered for gcPausesSince (a 10 s latency run sees a few hundred). */
const GC_PAUSES_KEPT = 10_000;
/** Lines of broker output kept for an error message. */
const OUTPUT_LINES_KEPT = 40;

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces), 0 = field 3 (state). */
function statFields(pid: number | string): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system, all threads) a running process has used. */
export function processCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export interface ThreadCpu {
  /** The main thread (JavaScript, socket I/O, GC pauses). */
  mainUser: number;
  mainSystem: number;
  /** Every other thread: the libuv pool (file writes, fdatasync, reads) and V8's helpers (concurrent GC, compiler). */
  otherUser: number;
  otherSystem: number;
}

/** CPU seconds of a running process split by thread (/proc/<pid>/task; the main thread's id is the pid). */
export function processCpuByThread(pid: number): ThreadCpu {
  const split: ThreadCpu = { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0 };
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return split;
  }
  for (const tid of threads) {
    let fields: string[];
    try {
      fields = statFields(`${pid}/task/${tid}`);
    } catch {
      continue; // the thread ended meanwhile
    }
    const user = Number(fields[11]) / CLOCK_TICKS_PER_SECOND;
    const system = Number(fields[12]) / CLOCK_TICKS_PER_SECOND;
    if (Number(tid) === pid) {
      split.mainUser += user;
      split.mainSystem += system;
    } else {
      split.otherUser += user;
      split.otherSystem += system;
    }
  }
  return split;
}

/** CPU seconds used by this process's children that have exited and been reaped. */
export function reapedChildrenCpuSeconds(): number {
  const fields = statFields('self');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}

export interface BrokerProcess {
  pid: number;
  host: string;
  port: number;
  bootstrap: string;
  cpuSeconds(): number;
  cpuByThread(): ThreadCpu;
  /** Main-thread GC time so far (ms): pauses plus incremental marking steps, from V8's --trace-gc
   *  lines; 0 unless started with --trace-gc. */
  gcPauseMs(): number;
  /** The GCs whose lines arrived since `since` (performance.now() of this process): the final pause and
   *  the incremental marking steps before it, in ms. */
  gcPausesSince(since: number): { pauseMs: number; stepsMs: number }[];
  /** SIGTERM (clean shutdown: flush, checkpoints, and the CPU profile if one is being taken), then wait. */
  stop(): Promise<void>;
}

/** Starts `sluice start` on a free loopback port; resolves once the listener's log line names the port. */
export async function startBrokerProcess(
  dataDir: string,
  nodeArguments: string[] = [],
  overrides: string[] = [],
): Promise<BrokerProcess> {
  const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const args = [
    ...nodeArguments,
    main,
    'start',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    ...overrides.flatMap((o) => ['--override', o]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (line: string): void => {
    output.push(line);
    if (output.length > OUTPUT_LINES_KEPT) output.shift();
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gcPauseMs = 0;
  /** Recent GCs as [arrival time, pause ms, incremental steps ms]; bounded. */
  const gcPauses: [number, number, number][] = [];
  let onPort: (port: number) => void = () => {};
  createInterface({ input: child.stdout! }).on('line', (line) => {
    // --trace-gc: "[pid:0x...]  1234 ms: Scavenge 8.4 (16.7) -> 7.8 (16.7) MB, 0.46 / 0.00 ms  (...)".
    const gc = /ms: (?:Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep|Mark-sweep)[^,]*, ([\d.]+) \/ [\d.]+ ms/.exec(
      line,
    );
    if (gc !== null) {
      // A mark-compact also ran incremental marking steps on the main thread before its final pause:
      // "(+ 13.7 ms in 57 steps since start of marking, ...)". Both are main-thread time.
      const steps = /\(\+ ([\d.]+) ms in \d+ steps/.exec(line);
      const stepsMs = steps === null ? 0 : Number(steps[1]);
      gcPauseMs += Number(gc[1]) + stepsMs;
      gcPauses.push([performance.now(), Number(gc[1]), stepsMs]);
      if (gcPauses.length > GC_PAUSES_KEPT) gcPauses.shift();
      return;
    }
    keep(line);
    let fields: { msg?: unknown; port?: unknown };
    try {
      fields = JSON.parse(line) as { msg?: unknown; port?: unknown };
    } catch {
      return;
    }
    // The listener logs "kafka listener started" with host and port fields ("listening on host:port"
    // in some versions); take the port from either.
    const text = typeof fields.msg === 'string' ? fields.msg : '';
    const fromText = /listening on .*:(\d+)/.exec(text)?.[1];
    if (/listen/i.test(text) && (typeof fields.port === 'number' || fromText !== undefined)) {
      onPort(typeof fields.port === 'number' ? fields.port : Number(fromText));
    }
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`broker did not report its port within ${BROKER_START_TIMEOUT_MS} ms:\n${output.join('\n')}`)),
      BROKER_START_TIMEOUT_MS,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${output.join('\n')}`));
    });
    onPort = (found) => {
      clearTimeout(timer);
      resolve(found);
    };
  });
  const pid = child.pid!;
  return {
    pid,
    host: '127.0.0.1',
    port,
    bootstrap: `127.0.0.1:${port}`,
    cpuSeconds: () => processCpuSeconds(pid),
    cpuByThread: () => processCpuByThread(pid),
    gcPauseMs: () => gcPauseMs,
    gcPausesSince: (since) =>
      gcPauses.filter(([at]) => at >= since).map(([, pauseMs, stepsMs]) => ({ pauseMs, stepsMs })),
    stop: () => stopChild(child, exited, output),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, output: string[]): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), BROKER_STOP_TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  if (code !== 0) console.log(`  (broker exited with ${code}; last output:\n${output.slice(-5).join('\n')})`);
}

export interface KcatRun {
  seconds: number;
  cpuSeconds: number;
}

/**
 * Runs kcat to completion (stdout to /dev/null), timing it from spawn to exit. Throws on a non-zero
 * exit or timeout.
 */
export async function runKcat(args: string[], timeoutMs: number): Promise<KcatRun> {
  const cpuBefore = reapedChildrenCpuSeconds();
  const start = performance.now();
  const child = spawn('kcat', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => {
    if (stderr.length < 4000) stderr += data.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
    },
  );
  const seconds = (performance.now() - start) / 1000;
  clearTimeout(timer);
  if (code !== 0) {
    const how = signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exited with ${code}`;
    throw new Error(`kcat ${args.join(' ')} ${how}:\n${stderr}`);
  }
  return { seconds, cpuSeconds: reapedChildrenCpuSeconds() - cpuBefore };
}
