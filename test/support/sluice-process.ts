// `sluice start` as a real child process, for tests that kill -9 the broker and start it again on the
// same data directory: a free loopback port, spawn (with the caller's --override settings and none of
// the SLUICE_* environment of the test runner), wait until it accepts connections, kill, wait for.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawClient } from './raw-client.js';

/** dist/test/support/sluice-process.js -> dist/src/cli/main.js */
export const mainScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SpawnOptions {
  /** Broker settings as `name=value`, passed as `--override`. */
  overrides?: readonly string[];
  /** What to do with the child's stdout (its log lines): 'ignore' (default), 'pipe', or a file descriptor. */
  stdout?: 'ignore' | 'pipe' | number;
  stderr?: 'pipe' | 'inherit';
  /** `--log-level` (default: the CLI's). */
  logLevel?: string;
  /** The address to listen on (default 127.0.0.1). */
  host?: string;
  /** A network namespace to run in (`ip netns exec`, test/faults/netbed.ts); the child's pid is the broker's. */
  netns?: string;
}

/** Spawns `sluice start` on 127.0.0.1:port with dataDir; does not wait for it to listen (see untilConnected). */
export function spawnSluice(port: number, dataDir: string, options: SpawnOptions = {}): ChildProcess {
  const overrides = options.overrides ?? [];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLUICE_')));
  const args = [
    mainScript,
    'start',
    '--listen',
    `${options.host ?? '127.0.0.1'}:${port}`,
    '--data-dir',
    dataDir,
    ...overrides.flatMap((o) => ['--override', o]),
    ...(options.logLevel !== undefined ? ['--log-level', options.logLevel] : []),
  ];
  const stdio: ['ignore', 'ignore' | 'pipe' | number, 'pipe' | 'inherit'] = [
    'ignore',
    options.stdout ?? 'ignore',
    options.stderr ?? 'pipe',
  ];
  // `ip netns exec` execs the command in place: the child's pid is the broker's (kill -9, SIGSTOP reach it).
  return options.netns === undefined
    ? spawn(process.execPath, args, { env, stdio })
    : spawn('ip', ['netns', 'exec', options.netns, process.execPath, ...args], { env, stdio });
}

/** A raw connection to the broker on port, retried until it accepts one (or timeoutMs passes). */
export async function untilConnected(port: number, timeoutMs = 15_000): Promise<RawClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await RawClient.connect(port);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** SIGKILLs the child (if it still runs) and resolves once it has exited. */
export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Polls condition every intervalMs until it holds; throws "timed out waiting for <what>" after timeoutMs. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
