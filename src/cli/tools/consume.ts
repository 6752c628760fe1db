// sluice consume NAME: prints messages, one per line.
import { Admin } from '../../client/admin.js';
import { Consumer, type ConsumedMessage } from '../../client/consumer.js';
import { bigintValue, integerValue, parseArguments, timeValue, ToolUsageError, value } from './args.js';
import { systemClock } from '../../runtime/clock.js';
import { clientOptions, type ToolIo } from './io.js';

export const consumeHelp = `Usage: sluice consume NAME [flags]

Prints the topic's messages, one per line, until --max messages, --timeout-ms of silence, or Ctrl-C.

Flags:
  --group ID               consume as a member of group ID (commits offsets); default: all partitions, no group
  --partition N            only partition N (repeatable; not with --group)
  --from-beginning         start at the first message (with --group: when the group has no offset yet)
  --offset N               start at offset N (with --partition)
  --from-time T            start at the first message at/after T (ISO date-time or ms since the epoch)
  --format raw|json        raw: the value (default); json: one object per message with key, headers, offset
  --print-key              raw format: print key<TAB>value
  --max N                  exit after N messages
  --timeout-ms MS          exit when no message came for MS milliseconds
  --bootstrap <host:port>  default 127.0.0.1:9092
  --verbose                print stack traces of errors
`;

export async function runConsume(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, {
    values: ['group', 'partition', 'offset', 'from-time', 'format', 'max', 'timeout-ms'],
    flags: ['from-beginning', 'print-key'],
  });
  if (args.flags.has('help')) {
    io.out(consumeHelp);
    return 0;
  }
  const [topic, ...extra] = args.positionals;
  if (!topic) throw new ToolUsageError('consume needs a topic name');
  if (extra.length > 0) throw new ToolUsageError(`unexpected argument "${extra[0]}"`);
  const groupId = value(args, 'group');
  const partitions = (args.values.get('partition') ?? []).map((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new ToolUsageError(`--partition must be an integer ≥ 0, got "${text}"`);
    return n;
  });
  if (groupId && partitions.length > 0) throw new ToolUsageError('--partition cannot be used with --group');
  const offset = bigintValue(args, 'offset');
  if (offset !== undefined && partitions.length === 0) throw new ToolUsageError('--offset needs --partition');
  const fromTime = timeValue(args, 'from-time');
  const format = value(args, 'format') ?? 'raw';
  if (format !== 'raw' && format !== 'json') throw new ToolUsageError(`--format must be raw or json, got "${format}"`);
  const max = integerValue(args, 'max', 1);
  const timeoutMs = integerValue(args, 'timeout-ms', 1);
  const options = clientOptions(value(args, 'bootstrap'));

  // Fail fast, in one line, on an unknown topic (a consumer would wait for it forever).
  const admin = new Admin(options);
  let partitionCount: number;
  try {
    partitionCount = (await admin.describeTopics([topic]))[0]!.partitions.length;
  } finally {
    await admin.close();
  }
  for (const p of partitions)
    if (p >= partitionCount)
      throw new ToolUsageError(`topic ${topic} has no partition ${p} (it has ${partitionCount})`);

  const clock = io.clock ?? systemClock;
  const consumer = new Consumer({
    ...options,
    clock,
    groupId,
    autoOffsetReset: args.flags.has('from-beginning') ? 'earliest' : 'latest',
    maxWaitMs: 200,
  });
  const start =
    offset ??
    (fromTime !== undefined ? fromTime : args.flags.has('from-beginning') && !groupId ? 'earliest' : undefined);
  if (groupId) consumer.subscribe([topic]);
  else
    consumer.assign(
      (partitions.length > 0 ? partitions : Array.from({ length: partitionCount }, (_, p) => p)).map((partition) => ({
        topic,
        partition,
        ...(start !== undefined ? { offset: start } : {}),
      })),
    );

  let count = 0;
  let lastMessageMs = clock.now();
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  await consumer.run(async (message: ConsumedMessage) => {
    if (max !== undefined && count >= max) return;
    count++;
    lastMessageMs = clock.now();
    io.out(
      format === 'json'
        ? JSON.stringify(toJson(message)) + '\n'
        : args.flags.has('print-key')
          ? `${message.key?.toString('utf8') ?? ''}\t${message.value?.toString('utf8') ?? ''}\n`
          : `${message.value?.toString('utf8') ?? ''}\n`,
    );
    if (max !== undefined && count >= max) stop();
  });
  // With a group and --from-time, move the assigned partitions once the group has assigned them.
  if (groupId && fromTime !== undefined) for (const tp of consumer.assignment()) consumer.seek(tp, fromTime);
  const idle =
    timeoutMs === undefined
      ? undefined
      : setInterval(() => clock.now() - lastMessageMs >= timeoutMs && stop(), Math.min(100, timeoutMs));
  await Promise.race([stopped, io.interrupted]);
  if (idle) clearInterval(idle);
  await consumer.close();
  io.err(`consumed ${count} messages\n`);
  return 0;
}

function toJson(message: ConsumedMessage): object {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset.toString(),
    timestamp: message.timestamp,
    key: message.key?.toString('utf8') ?? null,
    value: message.value?.toString('utf8') ?? null,
    headers: Object.fromEntries(message.headerList.map((h) => [h.key, h.value?.toString('utf8') ?? null])),
  };
}
