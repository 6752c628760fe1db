// `sluice start` as an operator runs it: a real process on loopback with a temp data dir, its JSON
// log lines read from a pipe, kafkajs as the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

/** dist/test/cli/start.test.js -> dist/src/cli/main.js */
const mainScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const packageVersion = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A `sluice start` process with its log lines as they arrive. */
class Sluice {
  readonly lines: LogLine[] = [];
  stderr = '';
  private readonly waiters: Array<() => void> = [];
  private closed = false;
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (text.trim() === '') continue;
        this.lines.push(JSON.parse(text) as LogLine); // a line that is not JSON fails the test here
        for (const wake of this.waiters.splice(0)) wake();
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr += chunk));
    // 'close', not 'exit': it comes after stdout and stderr have been read to the end.
    this.exited = new Promise((resolve) =>
      child.on('close', (code) => {
        this.closed = true;
        for (const wake of this.waiters.splice(0)) wake();
        resolve(code);
      }),
    );
  }

  static spawn(args: string[], environment: Record<string, string> = {}, cwd?: string): Sluice {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLUICE_')));
    return new Sluice(
      spawn(process.execPath, [mainScript, ...args], {
        env: { ...inherited, ...environment },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(cwd ? { cwd } : {}),
      }),
    );
  }

  /** Resolves with the first log line matching `predicate`; rejects if the process exits first. */
  async waitForLine(predicate: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (this.closed) {
        throw new Error(
          `sluice exited (${this.child.exitCode ?? this.child.signalCode}) before the line; log:\n${this.transcript()}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`no such log line within ${timeoutMs} ms; log:\n${this.transcript()}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200).unref();
      });
    }
  }

  async listening(): Promise<LogLine> {
    return this.waitForLine((line) => line.msg.startsWith('listening on'));
  }

  transcript(): string {
    return [...this.lines.map((line) => JSON.stringify(line)), this.stderr].join('\n');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function kafkaAt(port: number) {
  return new Kafka({
    clientId: 'cli-test',
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  });
}

async function withTemporaryDirectory(body: (directory: string) => Promise<void>): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-cli-test-'));
  try {
    await body(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('sluice start serves kafkajs, logs JSON lines, and exits 0 on SIGTERM after a clean shutdown', async () => {
  await withTemporaryDirectory(async (directory) => {
    const port = await freePort();
    const dataDir = join(directory, 'data');
    const sluice = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    try {
      const listening = await sluice.listening();
      assert.equal(listening.level, 30);
      assert.equal(listening['port'], port);
      assert.equal(listening['dataDir'], dataDir);
      assert.equal(typeof listening['clusterId'], 'string');
      assert.ok(existsSync(join(dataDir, '.lock')));

      const admin = kafkaAt(port).admin();
      await admin.connect();
      const cluster = await admin.describeCluster();
      assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port }]);
      assert.equal(cluster.clusterId, listening['clusterId']);
      assert.deepEqual(
        (await admin.listTopics()).filter((name) => !name.startsWith('__')),
        [],
        "no topics but the broker's own",
      );
      await admin.disconnect();
    } finally {
      assert.equal(await sluice.stop('SIGTERM'), 0, sluice.transcript());
    }
    assert.ok(
      sluice.lines.some((line) => line.msg.startsWith('shutting down') && line['signal'] === 'SIGTERM'),
      sluice.transcript(),
    );
    assert.equal(sluice.lines.at(-1)!.msg, 'shutdown complete');
    assert.equal(existsSync(join(dataDir, '.lock')), false, 'the lock is released');
  });
});

test('start-up log: no block per internal partition at info (their opens go to debug), one summary', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const port = await freePort();
    const args = ['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
    const first = Sluice.spawn(args);
    try {
      await first.listening();
      // A group lookup creates `__consumer_offsets` (offsets.topic.num.partitions: 10 here).
      const admin = kafkaAt(port).admin();
      await admin.connect();
      await admin.describeGroups(['any']);
      await admin.disconnect();
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0, first.transcript());
    }
    // A line about one partition of an internal topic names its directory, `<data-dir>/__…-<n>`.
    const perInternalPartition = (line: LogLine) =>
      typeof line['directory'] === 'string' && /\/__[^/]*-\d+$/.test(line['directory']);
    const atInfo = (sluice: Sluice) => sluice.lines.filter((line) => line.level === 30);
    assert.deepEqual(atInfo(first).filter(perInternalPartition), [], 'creating them: nothing per partition at info');
    for (const level of ['info', 'debug']) {
      const again = Sluice.spawn([...args, '--log-level', level]);
      try {
        await again.listening();
      } finally {
        assert.equal(await again.stop('SIGTERM'), 0, again.transcript());
      }
      const startUp = atInfo(again).slice(
        0,
        atInfo(again).findIndex((line) => line.msg.startsWith('listening on')) + 1,
      );
      assert.deepEqual(startUp.filter(perInternalPartition), [], `${level}: nothing per internal partition at info`);
      assert.ok(startUp.length <= 8, `a short start-up at info:\n${startUp.map((line) => line.msg).join('\n')}`);
      const opened = startUp.find((line) => line.msg === 'broker opened')!;
      const partitionDirectories = readdirSync(dataDir).filter((name) => /-\d+$/.test(name)).length;
      assert.ok(partitionDirectories >= 10 + 9, 'the offsets topic and the half-message channel');
      assert.equal(opened['partitions'], partitionDirectories, 'the summary counts every partition');
      const opens = again.lines.filter((line) => line.level === 20 && line.msg === 'log-opened').length;
      assert.equal(opens, level === 'info' ? 0 : partitionDirectories, `${level}: log-opened lines at debug`);
    }
  });
});

test('SIGINT stops it the same way, also when Ctrl-C arrives twice at once (terminal and npm)', async () => {
  await withTemporaryDirectory(async (directory) => {
    const sluice = Sluice.spawn(['start', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', directory]);
    await sluice.listening();
    sluice.child.kill('SIGINT');
    assert.equal(await sluice.stop('SIGINT'), 0, sluice.transcript());
    assert.equal(sluice.lines.filter((line) => line.msg.startsWith('shutting down')).length, 1);
    assert.ok(sluice.lines.some((line) => line.msg === 'shutdown complete'));
  });
});

// Found by the fuzzer, seed 5.
test('SIGTERM with a JoinGroup parked and a client still sending: a clean shutdown, exit 0', async () => {
  // The drain waits for the JoinGroup, parked on the group's (unref'd) rebalance timer; the client's
  // socket stops being read while draining. With nothing else holding the event loop, Node ended the
  // process mid-shutdown — exit 13, unsettled top-level await — before the broker was closed.
  await withTemporaryDirectory(async (directory) => {
    const port = await freePort();
    const sluice = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', directory]);
    await sluice.listening();
    const { RawClient } = await import('../support/raw-client.js');
    const client = await RawClient.connect(port);
    try {
      client.request(11, 0, 1, {
        groupId: 'parked',
        sessionTimeoutMs: 30_000,
        memberId: '',
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      });
      await sluice.waitForLine((line) => line.msg === 'preparing to rebalance' || line.msg.includes('rebalance'));
      sluice.child.kill('SIGTERM');
      await sluice.waitForLine((line) => line.msg.startsWith('shutting down'));
      // More requests than a socket buffers: the broker stops reading this connection while it drains.
      for (let i = 0; i < 3000; i++) client.request(18, 0, 100 + i, {});
      assert.equal(await sluice.exited, 0, sluice.transcript());
      assert.equal(sluice.lines.at(-1)!.msg, 'shutdown complete', sluice.transcript());
    } finally {
      client.close();
    }
  });
});

test('SIGTERM while a producer is sending: every acknowledged message is there after a restart', async (t) => {
  await withTemporaryDirectory(async (dataDir) => {
    const port = await freePort();
    const first = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    await first.listening();
    const kafka = new Kafka({
      clientId: 'cli-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic: 'during-shutdown', messages: [{ value: 'first' }] });
    let acknowledged = 1;
    let sending = true;
    const loop = (async () => {
      while (sending) {
        try {
          await producer.send({
            topic: 'during-shutdown',
            acks: -1,
            messages: Array.from({ length: 10 }, (_, i) => ({ value: `message ${acknowledged + i}` })),
          });
          acknowledged += 10;
        } catch {
          sending = false; // the broker went away
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await first.stop('SIGTERM'), 0, first.transcript());
    sending = false;
    await loop;
    await producer.disconnect().catch(() => {});
    assert.ok(acknowledged > 1, 'some sends were acknowledged before the shutdown');

    const second = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    try {
      await second.listening();
      const admin = kafkaAt(port).admin();
      await admin.connect();
      const [offsets] = await admin.fetchTopicOffsets('during-shutdown');
      await admin.disconnect();
      t.diagnostic(`${acknowledged} acknowledged before SIGTERM, high watermark after restart ${offsets!.high}`);
      assert.ok(
        Number(offsets!.high) >= acknowledged,
        `high watermark ${offsets!.high} < ${acknowledged} acknowledged`,
      );
    } finally {
      assert.equal(await second.stop(), 0, second.transcript());
    }
  });
});

test('a second broker on the same data dir exits 1, one line naming the lock; the first keeps serving', async () => {
  await withTemporaryDirectory(async (dataDir) => {
    const port = await freePort();
    const first = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]);
    try {
      await first.listening();
      const second = Sluice.spawn(['start', '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir]);
      assert.equal(await second.exited, 1, second.transcript());
      const errors = second.lines.filter((line) => line.level >= 50);
      assert.equal(errors.length, 1, second.transcript());
      assert.match(errors[0]!.msg, /^cannot start: data directory .* is in use by another broker \(pid \d+\)/);
      assert.ok(errors[0]!.msg.includes(dataDir));
      assert.equal(second.stderr, '');

      const admin = kafkaAt(port).admin();
      await admin.connect();
      assert.equal((await admin.describeCluster()).brokers.length, 1);
      await admin.disconnect();
    } finally {
      assert.equal(await first.stop(), 0, first.transcript());
    }
  });
});

/** Starts sluice, lets a producer auto-create `topic`, and reads back node id and partition count. */
async function observe(
  args: string[],
  environment: Record<string, string>,
  port: number,
): Promise<{ nodeId: number; partitions: number }> {
  const sluice = Sluice.spawn(['start', ...args], environment);
  try {
    await sluice.listening();
    const kafka = kafkaAt(port);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'auto-created', messages: [{ value: 'hello' }] });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    const metadata = await admin.fetchTopicMetadata({ topics: ['auto-created'] });
    await admin.disconnect();
    return { nodeId: cluster.brokers[0]!.nodeId, partitions: metadata.topics[0]!.partitions.length };
  } finally {
    assert.equal(await sluice.stop(), 0, sluice.transcript());
  }
}

test('precedence: flags > SLUICE_* environment > --config file > defaults', async () => {
  await withTemporaryDirectory(async (directory) => {
    const port = await freePort();
    const configFile = join(directory, 'broker.properties');
    writeFileSync(
      configFile,
      [
        '# a Kafka properties file',
        `listeners=PLAINTEXT://127.0.0.1:${port}`,
        'node.id=1',
        'num.partitions=2',
        '',
      ].join('\n'),
    );
    const dataDir = (name: string) => join(directory, name);

    // Config file only.
    assert.deepEqual(await observe(['--config', configFile, '--data-dir', dataDir('a')], {}, port), {
      nodeId: 1,
      partitions: 2,
    });
    // The environment beats the file (SLUICE_CONFIG names the file this time).
    assert.deepEqual(
      await observe(
        ['--data-dir', dataDir('b')],
        { SLUICE_CONFIG: configFile, SLUICE_NODE_ID: '2', SLUICE_NUM_PARTITIONS: '3' },
        port,
      ),
      { nodeId: 2, partitions: 3 },
    );
    // Flags beat both; SLUICE_LISTEN and SLUICE_DATA_DIR point somewhere unusable, and the flags win.
    assert.deepEqual(
      await observe(
        [
          '--config',
          configFile,
          '--listen',
          `127.0.0.1:${port}`,
          '--data-dir',
          dataDir('c'),
          '--node-id',
          '3',
          '--override',
          'num.partitions=4',
        ],
        {
          SLUICE_NODE_ID: '2',
          SLUICE_NUM_PARTITIONS: '3',
          SLUICE_LISTEN: 'not-an-address',
          SLUICE_DATA_DIR: '/proc/not-writable',
        },
        port,
      ),
      { nodeId: 3, partitions: 4 },
    );
    // The environment alone chooses the data dir and the listener.
    assert.deepEqual(await observe([], { SLUICE_LISTEN: `127.0.0.1:${port}`, SLUICE_DATA_DIR: dataDir('d') }, port), {
      nodeId: 0,
      partitions: 1,
    });
    assert.ok(existsSync(join(dataDir('d'), 'meta.properties')));
  });
});

test('the default data dir is ./data under the working directory', async () => {
  await withTemporaryDirectory(async (directory) => {
    const sluice = Sluice.spawn(['start', '--listen', `127.0.0.1:${await freePort()}`], {}, directory);
    const listening = await sluice.listening();
    assert.equal(listening['dataDir'], join(directory, 'data'));
    assert.equal(await sluice.stop(), 0, sluice.transcript());
  });
});

test('a bad setting exits 1 with one clear line, wherever it comes from', async () => {
  await withTemporaryDirectory(async (directory) => {
    const configFile = join(directory, 'bad.properties');
    writeFileSync(configFile, 'log.flush.policy=sometimes\n');
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [
        ['--override', 'num.partitions=zero'],
        {},
        /^cannot start: num\.partitions must be an integer >= 1, got "zero"$/,
      ],
      [['--node-id', 'x'], {}, /^cannot start: node\.id must be an integer >= 0, got "x"$/],
      [['--listen', '127.0.0.1'], {}, /^cannot start: listeners must look like host:port .*no port/],
      [[], { SLUICE_LOG_RETENTION_MS: 'forever' }, /^cannot start: log\.retention\.ms/],
      // A topic config's broker default is checked as the topic config is (the settings registry).
      [
        ['--override', 'log.cleaner.min.cleanable.ratio=2'],
        {},
        /^cannot start: log\.cleaner\.min\.cleanable\.ratio must be a number in \[0, 1\], got "2"$/,
      ],
      [['--override', 'log.retention.hours=soon'], {}, /^cannot start: log\.retention\.hours must be an integer/],
      [['--config', configFile], {}, /^cannot start: log\.flush\.policy must be sync, os or interval:<ms>/],
      [
        ['--config', join(directory, 'missing.properties')],
        {},
        /^cannot start: cannot read config file .*missing\.properties: no such file$/,
      ],
    ];
    for (const [args, environment, pattern] of cases) {
      const sluice = Sluice.spawn(['start', '--data-dir', join(directory, 'data'), ...args], environment);
      assert.equal(await sluice.exited, 1, sluice.transcript());
      const errors = sluice.lines.filter((line) => line.level >= 50);
      assert.equal(errors.length, 1, sluice.transcript());
      assert.match(errors[0]!.msg, pattern);
      assert.equal(errors[0]!['stack'], undefined, 'an expected error is one line without a stack');
    }
  });
});

test('a port in use exits 1 naming the address', async () => {
  await withTemporaryDirectory(async (directory) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const sluice = Sluice.spawn(['start', '--listen', `127.0.0.1:${port}`, '--data-dir', directory]);
      assert.equal(await sluice.exited, 1, sluice.transcript());
      assert.match(
        sluice.lines.find((line) => line.level >= 50)!.msg,
        new RegExp(`^cannot start: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`),
      );
      assert.equal(existsSync(join(directory, '.lock')), false, 'the data dir lock is released');
    } finally {
      blocker.close();
    }
  });
});

test('command-line mistakes exit 2 on stderr; --help and --version exit 0', async () => {
  const unknown = Sluice.spawn(['start', '--no-such-flag']);
  assert.equal(await unknown.exited, 2);
  assert.match(unknown.stderr, /Unknown option '--no-such-flag'/);

  const override = Sluice.spawn(['start', '--override', 'no-equals-sign']);
  assert.equal(await override.exited, 2);
  assert.match(override.stderr, /--override takes name=value/);

  const command = Sluice.spawn(['stop']);
  assert.equal(await command.exited, 2);
  assert.match(command.stderr, /unknown command "stop"/);

  const help = spawn(process.execPath, [mainScript, 'start', '--help'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let helpText = '';
  help.stdout.on('data', (chunk: Buffer) => (helpText += chunk.toString()));
  assert.equal(await new Promise((resolve) => help.on('close', resolve)), 0);
  for (const expected of [
    '--listen',
    '--advertised-listener',
    '--data-dir',
    '--node-id',
    '--config',
    '--override',
    'SLUICE_LOG_RETENTION_MS',
  ]) {
    assert.ok(helpText.includes(expected), expected);
  }

  const version = spawn(process.execPath, [mainScript, '--version'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let versionText = '';
  version.stdout.on('data', (chunk: Buffer) => (versionText += chunk.toString()));
  assert.equal(await new Promise((resolve) => version.on('close', resolve)), 0);
  assert.equal(versionText.trim(), packageVersion);
});
