// `sluice cluster up`: a local cluster for trying things — an etcd (the `etcd` binary of Debian's
// etcd-server, or one already running given with --etcd) and N brokers on loopback, each its own
// process with its own data directory under --data-dir. Their log lines go to stdout prefixed with
// the broker's id. Ctrl-C (or SIGTERM) stops the brokers one by one with SIGTERM (controlled
// shutdowns), then etcd.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../runtime/clock.js';

export const clusterHelp = `Usage: sluice cluster up [flags]
       sluice cluster status [--bootstrap host:port]   (see sluice cluster status --help)

Starts etcd and N brokers on 127.0.0.1 (Ctrl-C stops all of them).

Flags:
  --brokers <n>        brokers to start (default 3)
  --base-port <port>   broker 1 listens here, broker 2 on the next port, … (default 9092)
  --data-dir <path>    each broker's data in <path>/broker-<id>, etcd's in <path>/etcd (default ./data-cluster)
  --etcd <url>         use this etcd instead of starting one
  --etcd-port <port>   client port of the etcd started here (default 2379)
  --override <k=v>     a setting for every broker; repeatable
  -h, --help           show this help`;

const mainScript = join(fileURLToPath(new URL('.', import.meta.url)), 'main.js');

function prefixed(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

async function untilHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = systemClock.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}`);
    if (systemClock.now() > deadline) throw new Error(`etcd at ${url} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runCluster(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        brokers: { type: 'string', default: '3' },
        'base-port': { type: 'string', default: '9092' },
        'data-dir': { type: 'string', default: './data-cluster' },
        etcd: { type: 'string' },
        'etcd-port': { type: 'string', default: '2379' },
        override: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`sluice cluster: ${(error as Error).message.split('\n')[0]} (see sluice cluster --help)`);
    return 2;
  }
  if (values.help || args[0] !== 'up') {
    console.log(clusterHelp);
    return values.help ? 0 : 2;
  }
  const count = Number(values.brokers);
  const basePort = Number(values['base-port']);
  const etcdPort = Number(values['etcd-port']);
  if (
    !Number.isInteger(count) ||
    count < 1 ||
    count > 32 ||
    !Number.isInteger(basePort) ||
    !Number.isInteger(etcdPort)
  ) {
    console.error('sluice cluster: --brokers takes 1..32, ports take integers');
    return 2;
  }
  const dataDir = resolve(values['data-dir']);
  const children: ChildProcess[] = [];
  let etcd: ChildProcess | null = null;
  let etcdUrl = values.etcd;
  if (etcdUrl === undefined) {
    etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peer = `http://127.0.0.1:${etcdPort + 1}`;
    etcd = spawn(
      'etcd',
      [
        '--name',
        'sluice',
        '--data-dir',
        join(dataDir, 'etcd'),
        '--listen-client-urls',
        etcdUrl,
        '--advertise-client-urls',
        etcdUrl,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `sluice=${peer}`,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    etcd.on('error', (error) =>
      console.error(`sluice cluster: cannot start etcd (apt-get install etcd-server): ${error.message}`),
    );
    prefixed(etcd, 'etcd');
    try {
      await untilHealthy(etcdUrl, etcd, 20_000);
    } catch (error) {
      console.error(`sluice cluster: ${(error as Error).message}`);
      etcd.kill('SIGKILL');
      return 1;
    }
  }
  for (let id = 1; id <= count; id++) {
    const child = spawn(
      process.execPath,
      [
        mainScript,
        'start',
        '--cluster-etcd',
        etcdUrl,
        '--node-id',
        String(id),
        '--listen',
        `127.0.0.1:${basePort + id - 1}`,
        '--data-dir',
        join(dataDir, `broker-${id}`),
        ...(values.override ?? []).flatMap((o) => ['--override', o]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prefixed(child, `broker-${id}`);
    children.push(child);
  }
  const bootstrap = Array.from({ length: count }, (_, i) => `127.0.0.1:${basePort + i}`).join(',');
  console.log(`sluice cluster: etcd ${etcdUrl}, ${count} brokers, bootstrap ${bootstrap} (Ctrl-C stops all)`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      for (const child of children) {
        if (child.exitCode !== null || child.signalCode !== null) continue; // already gone (killed by hand)
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (etcd !== null && etcd.exitCode === null && etcd.signalCode === null) {
        const exited = new Promise((r) => etcd!.once('exit', r));
        etcd.kill('SIGTERM');
        await exited;
      }
      resolveExit(0);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
  });
}
