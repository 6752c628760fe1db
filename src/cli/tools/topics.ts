// sluice topics create|list|describe|delete|alter
import { Admin } from '../../client/admin.js';
import { integerValue, parseArguments, ToolUsageError, value } from './args.js';
import { clientOptions, type ToolIo } from './io.js';

export const topicsHelp = `Usage: sluice topics <action> [NAME] [flags]

Actions:
  create NAME [--partitions N] [--replication-factor N] [--config name=value]...
  list [--include-internal]
  describe NAME          partitions, leaders and configs that are not defaults
  delete NAME
  alter NAME [--partitions N] [--config name=value]... [--delete-config name]...

Flags:
  --bootstrap <host:port>   broker to ask (default 127.0.0.1:9092)
  --verbose                 print stack traces of errors
`;

export async function runTopics(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, {
    values: ['partitions', 'replication-factor', 'config', 'delete-config'],
    flags: ['include-internal'],
  });
  if (args.flags.has('help')) {
    io.out(topicsHelp);
    return 0;
  }
  const [action, name, ...extra] = args.positionals;
  if (extra.length > 0) throw new ToolUsageError(`unexpected argument "${extra[0]}"`);
  const needName = () => {
    if (!name) throw new ToolUsageError(`topics ${action} needs a topic name`);
    return name;
  };
  const configs = Object.fromEntries(
    (args.values.get('config') ?? []).map((entry) => {
      const at = entry.indexOf('=');
      if (at <= 0) throw new ToolUsageError(`--config takes name=value, got "${entry}"`);
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
  const admin = new Admin(clientOptions(value(args, 'bootstrap')));
  try {
    switch (action) {
      case 'create': {
        const topic = needName();
        await admin.createTopics([
          {
            name: topic,
            partitions: integerValue(args, 'partitions', 1),
            replicationFactor: integerValue(args, 'replication-factor', 1),
            configs,
          },
        ]);
        io.out(`created topic ${topic}\n`);
        return 0;
      }
      case 'list':
        for (const topic of await admin.listTopics({ includeInternal: args.flags.has('include-internal') }))
          io.out(`${topic}\n`);
        return 0;
      case 'describe': {
        const [info] = await admin.describeTopics([needName()]);
        io.out(`topic ${info!.name}  partitions ${info!.partitions.length}${info!.isInternal ? '  internal' : ''}\n`);
        for (const p of info!.partitions)
          io.out(
            `  partition ${p.partition}  leader ${p.leader}  ` +
              `replicas ${p.replicas.join(',')}  isr ${p.isr.join(',')}\n`,
          );
        const described = await admin.describeConfigs('topic', info!.name);
        const overrides = Object.entries(described).filter(([, entry]) => !entry.isDefault);
        for (const [key, entry] of overrides)
          io.out(`  config ${key}=${entry.isSensitive ? '(sensitive)' : entry.value}\n`);
        return 0;
      }
      case 'delete': {
        const topic = needName();
        await admin.deleteTopics([topic]);
        io.out(`deleted topic ${topic}\n`);
        return 0;
      }
      case 'alter': {
        const topic = needName();
        const partitions = integerValue(args, 'partitions', 1);
        for (const key of args.values.get('delete-config') ?? []) configs[key] = null as unknown as string;
        if (partitions === undefined && Object.keys(configs).length === 0)
          throw new ToolUsageError('topics alter needs --partitions, --config or --delete-config');
        if (partitions !== undefined) await admin.createPartitions(topic, partitions);
        if (Object.keys(configs).length > 0) await admin.alterConfigs('topic', topic, configs);
        io.out(`altered topic ${topic}\n`);
        return 0;
      }
      default:
        throw new ToolUsageError(
          action === undefined
            ? 'topics needs an action: create, list, describe, delete or alter'
            : `unknown action "${action}" (create, list, describe, delete, alter)`,
        );
    }
  } finally {
    await admin.close();
  }
}
