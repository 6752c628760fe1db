// The fault bed's network: one network namespace per node (etcd is node 0, brokers 1…n), each joined
// by a veth pair to a bridge in the test's own namespace, on a /24 the bed picks (10.77.<k>.0):
//
//   test process  10.77.k.1 (the bridge)
//   node i        10.77.k.(10 + i), in namespace `sfb<run>-<i>`
//
// A link is cut by a blackhole route for the peer's address inside a node's namespace: packets that
// node sends to the peer are dropped (new connections fail, open ones stall), so `cut(a, b)` is both
// ways and `cutOneWay(from, to)` loses only what `from` sends. `isolate(i)` cuts a node from every
// other node and from the test's clients. `heal()` removes every route the bed added.
//
// Namespaces need root (CI runs as root). The kernel here has no netem qdisc, so added latency is not
// one of this bed's faults; test/support/tcp-proxy.ts delays a link where a test needs it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** etcd runs as node 0; brokers are nodes 1…n. */
const ETCD_NODE = 0;

export class NetBed {
  private readonly cuts = new Set<string>(); // "from>to"
  private readonly run = randomBytes(2).toString('hex');
  private readonly subnet = 64 + (randomBytes(1)[0]! % 128);
  private created: number[] = [];
  private bridgeUp = false;

  private constructor(private readonly nodes: readonly number[]) {}

  /** Creates the bridge and a namespace per node (0 = etcd). Throws if the machine cannot. */
  static create(nodes: readonly number[]): NetBed {
    const bed = new NetBed(nodes);
    try {
      bed.build();
    } catch (error) {
      bed.destroy();
      throw error;
    }
    return bed;
  }

  private get bridge(): string {
    return `sfb${this.run}`;
  }

  namespaceOf(node: number): string {
    return `sfb${this.run}-${node}`;
  }

  /** The node's address (node 0: etcd). */
  addressOf(node: number): string {
    return `10.77.${this.subnet}.${10 + node}`;
  }

  get clientAddress(): string {
    return `10.77.${this.subnet}.1`;
  }

  get etcdNode(): number {
    return ETCD_NODE;
  }

  private build(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridgeUp = true;
    ip('addr', 'add', `${this.clientAddress}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (const node of this.nodes) {
      const ns = this.namespaceOf(node);
      const outside = `sfb${this.run}v${node}`;
      ip('netns', 'add', ns);
      this.created.push(node);
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', outside, 'master', this.bridge);
      ip('link', 'set', outside, 'up');
      inside(ns, 'addr', 'add', `${this.addressOf(node)}/24`, 'dev', 'eth0');
      inside(ns, 'link', 'set', 'eth0', 'up');
      inside(ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** Drops what `from` sends to `to` (`to` = 'client': the test's clients). */
  cutOneWay(from: number, to: number | 'client'): void {
    const key = `${from}>${to}`;
    if (this.cuts.has(key)) return;
    const address = to === 'client' ? this.clientAddress : this.addressOf(to);
    inside(this.namespaceOf(from), 'route', 'add', 'blackhole', `${address}/32`);
    this.cuts.add(key);
  }

  cut(a: number, b: number): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Cuts `node` from every other node and from the clients. */
  isolate(node: number): void {
    for (const other of this.nodes) if (other !== node) this.cut(node, other);
    this.cutOneWay(node, 'client');
  }

  /** Every link as it was. */
  heal(): void {
    for (const key of this.cuts) {
      const [from, to] = key.split('>') as [string, string];
      const address = to === 'client' ? this.clientAddress : this.addressOf(Number(to));
      try {
        inside(this.namespaceOf(Number(from)), 'route', 'del', 'blackhole', `${address}/32`);
      } catch {
        // the namespace is gone already
      }
    }
    this.cuts.clear();
  }

  /** What is cut now, for the schedule's log. */
  describeCuts(): string {
    return [...this.cuts].join(' ') || 'none';
  }

  /** Removes the namespaces (their veth ends go with them) and the bridge. */
  destroy(): void {
    for (const node of this.created) quietly(() => ip('netns', 'del', this.namespaceOf(node)));
    this.created = [];
    if (this.bridgeUp) quietly(() => ip('link', 'del', this.bridge));
    this.bridgeUp = false;
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function inside(namespace: string, ...args: string[]): void {
  ip('netns', 'exec', namespace, 'ip', ...args);
}

function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // already gone
  }
}
