// A real etcd (Debian's etcd-server, installed by .ci/run) for the cluster tests: one member on two free
// loopback ports with its data in a temp dir, started and stopped by the test. `stop()` kills it;
// `restart()` starts it again on the same ports and data (etcd stopped and restarted under load).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killed } from './sluice-process.js';

export interface EtcdPlace {
  host?: string;
  netns?: string;
}

export class EtcdServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly clientPort: number,
    private readonly peerPort: number,
    private readonly dataDir: string,
    private readonly where: EtcdPlace,
  ) {}

  get endpoint(): string {
    return `http://${this.where.host ?? '127.0.0.1'}:${this.clientPort}`;
  }

  /** On two free loopback ports, or on `host` inside network namespace `netns` (test/faults/netbed.ts). */
  static async start(where: EtcdPlace = {}): Promise<EtcdServer> {
    const ports = where.host === undefined ? [await freePort(), await freePort()] : [2379, 2380];
    const server = new EtcdServer(ports[0]!, ports[1]!, mkdtempSync(join(tmpdir(), 'sluice-etcd-')), where);
    await server.run();
    return server;
  }

  private async run(): Promise<void> {
    const host = this.where.host ?? '127.0.0.1';
    const client = `http://${host}:${this.clientPort}`;
    const peer = `http://${host}:${this.peerPort}`;
    const netns = this.where.netns === undefined ? [] : ['ip', 'netns', 'exec', this.where.netns];
    this.child = spawn(
      netns.length > 0 ? netns[0]! : 'etcd',
      [
        ...netns.slice(1),
        ...(netns.length > 0 ? ['etcd'] : []),
        '--name',
        'sluice-test',
        '--data-dir',
        join(this.dataDir, 'member'),
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `sluice-test=${peer}`,
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const response = await fetch(`${client}/health`);
        if (response.ok) return;
      } catch {
        // not up yet
      }
      if (this.child.exitCode !== null) throw new Error(`etcd exited: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`etcd did not start: ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async kill(): Promise<void> {
    if (this.child) await killed(this.child);
    this.child = null;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
