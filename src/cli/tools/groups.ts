// sluice groups list|describe|delete|reset-offsets
import { Admin } from '../../client/admin.js';
import { bigintValue, durationMs, parseArguments, timeValue, ToolUsageError, value } from './args.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import { clientOptions, type ToolIo } from './io.js';

export const groupsHelp = `Usage: sluice groups <action> [ID] [flags]

Actions:
  list
  describe ID                      state, members, and per partition: committed offset, end, lag
  delete ID                        the group must have no members
  reset-offsets ID --topic NAME    one of:
        --to-earliest | --to-latest | --to-offset N | --to-datetime T | --by-duration D | --shift-by N
      prints the plan (dry run); add --execute to apply it. The group must have no members.
      T: ISO date-time or ms since the epoch; D: 90m, 2h, 1d or PT1H30M (that long ago).

Flags:
  --bootstrap <host:port>   default 127.0.0.1:9092
  --verbose                 print stack traces of errors
`;

export async function runGroups(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, {
    values: ['topic', 'to-offset', 'to-datetime', 'by-duration', 'shift-by'],
    flags: ['to-earliest', 'to-latest', 'execute', 'dry-run'],
  });
  if (args.flags.has('help')) {
    io.out(groupsHelp);
    return 0;
  }
  const [action, groupId, ...extra] = args.positionals;
  if (extra.length > 0) throw new ToolUsageError(`unexpected argument "${extra[0]}"`);
  const needGroup = () => {
    if (!groupId) throw new ToolUsageError(`groups ${action} needs a group id`);
    return groupId;
  };
  if (action === 'reset-offsets') validateReset(args);
  const admin = new Admin(clientOptions(value(args, 'bootstrap')));
  try {
    switch (action) {
      case 'list':
        for (const group of await admin.listGroups())
          io.out(`${group.groupId}\t${group.state}\t${group.protocolType}\n`);
        return 0;
      case 'describe': {
        const id = needGroup();
        const [group] = await admin.describeGroups([id]);
        io.out(
          `group ${id}  state ${group!.state}  protocol ${group!.protocol || '-'}  members ${group!.members.length}\n`,
        );
        for (const m of group!.members)
          io.out(
            `  member ${m.memberId}${m.groupInstanceId ? ` (instance ${m.groupInstanceId})` : ''}  ` +
              `client ${m.clientId}  host ${m.clientHost}\n`,
          );
        const offsets = await admin.fetchOffsets(id);
        const ends = new Map<string, bigint>();
        for (const topic of new Set(offsets.map((o) => o.topic)))
          for (const end of await admin.listOffsets(topic, 'latest')) ends.set(`${topic}/${end.partition}`, end.offset);
        for (const o of offsets) {
          const end = ends.get(`${o.topic}/${o.partition}`);
          io.out(
            `  ${o.topic}/${o.partition}  committed ${o.offset}  end ${end ?? '?'}  ` +
              `lag ${end !== undefined && o.offset >= 0n ? end - o.offset : '?'}\n`,
          );
        }
        return 0;
      }
      case 'delete': {
        const id = needGroup();
        await admin.deleteGroups([id]);
        io.out(`deleted group ${id}\n`);
        return 0;
      }
      case 'reset-offsets': {
        const id = needGroup();
        const topic = value(args, 'topic')!;
        const plan = await planReset(admin, id, topic, args, io.clock ?? systemClock);
        const execute = args.flags.has('execute');
        for (const p of plan) io.out(`${topic}/${p.partition}  ${p.current < 0n ? '-' : p.current} -> ${p.offset}\n`);
        if (!execute) {
          io.out('dry run: nothing changed (add --execute to apply)\n');
          return 0;
        }
        await admin.resetOffsets(
          id,
          topic,
          plan.map((p) => ({ partition: p.partition, offset: p.offset })),
        );
        io.out(`reset ${plan.length} partitions of group ${id}\n`);
        return 0;
      }
      default:
        throw new ToolUsageError(
          action === undefined
            ? 'groups needs an action: list, describe, delete or reset-offsets'
            : `unknown action "${action}" (list, describe, delete, reset-offsets)`,
        );
    }
  } finally {
    await admin.close();
  }
}

function validateReset(args: ReturnType<typeof parseArguments>): void {
  if (!value(args, 'topic')) throw new ToolUsageError('reset-offsets needs --topic NAME');
  const chosen = ['to-earliest', 'to-latest']
    .filter((f) => args.flags.has(f))
    .concat(['to-offset', 'to-datetime', 'by-duration', 'shift-by'].filter((v) => args.values.has(v)));
  if (chosen.length !== 1)
    throw new ToolUsageError(
      'reset-offsets needs exactly one of ' +
        '--to-earliest, --to-latest, --to-offset, --to-datetime, --by-duration, --shift-by',
    );
  if (args.flags.has('execute') && args.flags.has('dry-run'))
    throw new ToolUsageError('--execute and --dry-run exclude each other');
}

async function planReset(
  admin: Admin,
  groupId: string,
  topic: string,
  args: ReturnType<typeof parseArguments>,
  clock: Clock,
): Promise<Array<{ partition: number; current: bigint; offset: bigint }>> {
  const earliest = await admin.listOffsets(topic, 'earliest');
  const latest = await admin.listOffsets(topic, 'latest');
  const committed = new Map((await admin.fetchOffsets(groupId, [topic])).map((o) => [o.partition, o.offset]));
  const clamp = (partition: number, offset: bigint) => {
    const low = earliest.find((e) => e.partition === partition)!.offset;
    const high = latest.find((e) => e.partition === partition)!.offset;
    return offset < low ? low : offset > high ? high : offset;
  };
  let targets: Map<number, bigint>;
  if (args.flags.has('to-earliest')) targets = new Map(earliest.map((e) => [e.partition, e.offset]));
  else if (args.flags.has('to-latest')) targets = new Map(latest.map((e) => [e.partition, e.offset]));
  else if (args.values.has('to-offset'))
    targets = new Map(latest.map((e) => [e.partition, clamp(e.partition, bigintValue(args, 'to-offset')!)]));
  else if (args.values.has('shift-by')) {
    const shift = bigintValue(args, 'shift-by')!;
    targets = new Map(
      latest.map((e) => [
        e.partition,
        clamp(
          e.partition,
          (committed.get(e.partition) ?? -1n) < 0n ? e.offset + shift : committed.get(e.partition)! + shift,
        ),
      ]),
    );
  } else {
    const time = args.values.has('to-datetime')
      ? timeValue(args, 'to-datetime')!
      : clock.now() - durationMs(value(args, 'by-duration')!);
    const found = await admin.listOffsets(topic, time);
    targets = new Map(
      found.map((f) => [
        f.partition,
        f.offset < 0n ? latest.find((e) => e.partition === f.partition)!.offset : f.offset,
      ]),
    );
  }
  return [...targets]
    .sort((a, b) => a[0] - b[0])
    .map(([partition, offset]) => ({ partition, current: committed.get(partition) ?? -1n, offset }));
}
