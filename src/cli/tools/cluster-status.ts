// sluice cluster status: what an operator looks at first — the live brokers and the controller
// (DescribeCluster), and every partition that is not fully replicated (Metadata): under-replicated
// (fewer in-sync replicas than replicas) and offline (no leader). Exit code 0 when every partition is
// led and fully in sync, 1 when one is not (so a script can wait for a healthy cluster), 2 for a bad
// command line.
import { Admin } from '../../client/admin.js';
import type { PartitionInfo } from '../../client/cluster.js';
import { parseArguments, ToolUsageError, value } from './args.js';
import { clientOptions, type ToolIo } from './io.js';

export const clusterStatusHelp = `Usage: sluice cluster status [flags]

Prints the live brokers, the controller, and every partition that is under-replicated or offline.
Exits 0 when every partition is led and fully in sync, 1 otherwise.

Flags:
  --bootstrap <host:port>   broker to ask (default 127.0.0.1:9092)
  --include-internal        count the broker's own topics (__consumer_offsets, …) too
  --verbose                 print stack traces of errors
`;

export async function runClusterStatus(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, { values: [], flags: ['include-internal'] });
  if (args.flags.has('help')) {
    io.out(clusterStatusHelp);
    return 0;
  }
  if (args.positionals.length > 0) throw new ToolUsageError(`unexpected argument "${args.positionals[0]}"`);
  const admin = new Admin(clientOptions(value(args, 'bootstrap')));
  try {
    const cluster = await admin.describeCluster();
    const names = await admin.listTopics({ includeInternal: args.flags.has('include-internal') });
    const topics = await admin.describeTopics(names);
    io.out(`cluster ${cluster.clusterId}, controller ${cluster.controllerId < 0 ? 'none' : cluster.controllerId}\n`);
    const brokers = [...cluster.brokers].sort((a, b) => a.nodeId - b.nodeId);
    io.out(`brokers (${brokers.length}):\n`);
    for (const b of brokers) io.out(`  ${b.nodeId}  ${b.host}:${b.port}${b.rack === null ? '' : `  rack ${b.rack}`}\n`);
    const under: string[] = [];
    const offline: string[] = [];
    let partitions = 0;
    const describe = (topic: string, p: PartitionInfo) =>
      `  ${topic}-${p.partition}  leader ${p.leader}  replicas ${p.replicas.join(',')}  isr ${p.isr.join(',')}`;
    for (const topic of topics)
      for (const p of topic.partitions) {
        partitions++;
        if (p.leader < 0) offline.push(describe(topic.name, p));
        else if (p.isr.length < p.replicas.length) under.push(describe(topic.name, p));
      }
    const inSync = partitions - under.length - offline.length;
    io.out(
      `topics ${topics.length}, partitions ${partitions}: ${inSync} in sync, ` +
        `${under.length} under-replicated, ${offline.length} offline\n`,
    );
    if (under.length > 0) io.out(`under-replicated:\n${under.join('\n')}\n`);
    if (offline.length > 0) io.out(`offline:\n${offline.join('\n')}\n`);
    return under.length === 0 && offline.length === 0 ? 0 : 1;
  } finally {
    await admin.close();
  }
}
