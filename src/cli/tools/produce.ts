// sluice produce NAME: one message per stdin line.
import { createInterface } from 'node:readline';
import { Producer, type CompressionName, type ProducerMessage } from '../../client/producer.js';
import { integerValue, parseArguments, ToolUsageError, unescapeSeparator, value } from './args.js';
import { clientOptions, type ToolIo } from './io.js';

export const produceHelp = `Usage: sluice produce NAME [flags] < lines

Sends one message per line of stdin; waits until every message is acknowledged.

Flags:
  --key-separator SEP      split each line at the first SEP into key and value (no key when a line
                           has no SEP); escapes as kcat -K: '\\t' tab, '\\xHH' hex code, and
                           '\\\\' a backslash
  --header name=value      add a header to every message (repeatable)
  --partition N            send to partition N (default: by key, or sticky for unkeyed messages)
  --compression CODEC      none (default), gzip, snappy, lz4, zstd
  --bootstrap <host:port>  default 127.0.0.1:9092
  --verbose                print stack traces of errors
`;

const CHUNK_MESSAGES = 1000;

export async function runProduce(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, { values: ['key-separator', 'header', 'partition', 'compression'], flags: [] });
  if (args.flags.has('help')) {
    io.out(produceHelp);
    return 0;
  }
  const [topic, ...extra] = args.positionals;
  if (!topic) throw new ToolUsageError('produce needs a topic name');
  if (extra.length > 0) throw new ToolUsageError(`unexpected argument "${extra[0]}"`);
  const written = value(args, 'key-separator');
  const separator = written === undefined ? undefined : unescapeSeparator(written);
  if (separator === '') throw new ToolUsageError('--key-separator must not be empty');
  if (separator?.includes('\n'))
    throw new ToolUsageError('--key-separator cannot hold a newline: each line of stdin is one message');
  const partition = integerValue(args, 'partition', 0);
  const headers = (args.values.get('header') ?? []).map((entry): [string, string] => {
    const at = entry.indexOf('=');
    if (at <= 0) throw new ToolUsageError(`--header takes name=value, got "${entry}"`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  });
  const compression = (value(args, 'compression') ?? 'none') as CompressionName;
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression))
    throw new ToolUsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got "${compression}"`);
  const producer = new Producer<string, string>({
    ...clientOptions(value(args, 'bootstrap')),
    compression,
    allowAutoTopicCreation: true,
    keySerializer: (text) => Buffer.from(text, 'utf8'),
    valueSerializer: (text) => Buffer.from(text, 'utf8'),
  });
  let sent = 0;
  try {
    let chunk: Array<ProducerMessage<string, string>> = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const messages = chunk;
      chunk = [];
      await producer.sendBatch(topic, messages);
      sent += messages.length;
    };
    for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
      let key: string | null = null;
      let text = line;
      if (separator !== undefined) {
        const at = line.indexOf(separator);
        if (at >= 0) {
          key = line.slice(0, at);
          text = line.slice(at + separator.length);
        }
      }
      chunk.push({ key, value: text, headers, partition });
      if (chunk.length >= CHUNK_MESSAGES) await flush();
    }
    await flush();
  } finally {
    await producer.close();
  }
  io.err(`produced ${sent} messages to ${topic}\n`);
  return 0;
}
