// Half messages across kill -9, with real processes: a broker (`sluice start`), the example order
// service (examples/half-messages/order-service.mjs, SQLite via sql.js) as child processes.
//
//   client crash   the order service commits its row and is SIGKILLed before deciding (its own
//                  --crash-after-db-commit, and a SIGKILL from the test at a random moment); a second
//                  instance's checker finds the row and commits: the order is in `orders` exactly once.
//                  A rolled-back order (the local transaction failed) never appears.
//   broker crash   kill -9 the broker while a half message is pending; after the restart the
//                  check-back commits it, once, and a message committed before the crash is not repeated.
//
// `orders` is read with kafkajs and kcat, read_uncommitted and read_committed: none of them ever sees
// a rolled-back or undecided message, nor a committed one twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { runKcat } from '../support/kcat.js';
import { freePort, killed, spawnSluice, untilConnected, waitFor } from '../support/sluice-process.js';

const { Kafka, logLevel } = kafkajs;
/** dist/test/crash/x.js -> the repository root */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const orderServiceScript = join(root, 'examples', 'half-messages', 'order-service.mjs');

// First check 300 ms after a half message is stored, then waits doubling up to 1 s, 20 checks (≈ 19 s)
// before the broker gives up: room for a dead instance's group session (2 s) to expire and a second
// instance to start.
const overrides = [
  'transaction.check.delay.ms=300',
  'sluice.transaction.check.backoff.max.ms=1000',
  'transaction.check.max=20',
  'sluice.half.log.num.partitions=2',
  'group.initial.rebalance.delay.ms=100',
  'group.min.session.timeout.ms=1000',
  'offsets.topic.num.partitions=2',
];
const startBroker = (port: number, dataDir: string) => spawnSluice(port, dataDir, { overrides });

/** Waits until the broker accepts connections; if it does not, fails with what it wrote to stderr. */
async function brokerUp(broker: ChildProcess, port: number): Promise<void> {
  let stderr = '';
  broker.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  try {
    (await untilConnected(port)).close();
  } catch (error) {
    throw new Error(`the broker did not start (exit ${broker.exitCode ?? broker.signalCode}): ${stderr}`, {
      cause: error,
    });
  }
}

interface ServiceRun {
  child: ChildProcess;
  output(): string;
  /** Exit code, or the signal's name. */
  exited: Promise<string>;
}

/** Every order service started, so a failing test leaves none behind. */
const services = new Set<ChildProcess>();

async function killServices(): Promise<void> {
  for (const child of services) await killed(child);
  services.clear();
}

function orderService(port: number, dbPath: string, args: string[]): ServiceRun {
  const child = spawn(
    process.execPath,
    [orderServiceScript, ...args, '--bootstrap', `127.0.0.1:${port}`, '--db', dbPath, '--session-timeout-ms', '2000'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  services.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<string>((resolve) => child.on('close', (code, signal) => resolve(signal ?? String(code))));
  return { child, output: () => output, exited };
}

/** Order ids in the database file, read the way the checker reads it. */
async function ordersInDatabase(dbPath: string): Promise<string[]> {
  if (!existsSync(dbPath)) return [];
  const { default: initSqlJs } = (await import('sql.js' as string)) as {
    default: () => Promise<{
      Database: new (data: Uint8Array) => { exec(sql: string): Array<{ values: unknown[][] }>; close(): void };
    }>;
  };
  const SQL = await initSqlJs();
  const db = new SQL.Database(readFileSync(dbPath));
  try {
    return (db.exec('SELECT id FROM orders ORDER BY id')[0]?.values ?? []).map((row) => String(row[0]));
  } finally {
    db.close();
  }
}

/** Keys of every record in `orders`, by kcat (librdkafka), sorted. */
async function kcatKeys(port: number, isolation: 'read_committed' | 'read_uncommitted'): Promise<string[]> {
  const out = await runKcat(`127.0.0.1:${port}`, [
    '-C',
    '-t',
    'orders',
    '-o',
    'beginning',
    '-e',
    '-X',
    `isolation.level=${isolation}`,
    '-f',
    '%k|%h\n',
  ]);
  const lines = out.split('\n').filter((line) => line.length > 0);
  for (const line of lines)
    assert.match(line, /\|.*sluice\.half\.id=\d+:\d+/, `every record carries its half id: ${line}`);
  return lines.map((line) => line.slice(0, line.indexOf('|'))).sort();
}

/** Keys of every record in `orders`, by a kafkajs consumer group from the beginning, sorted; waits for `expected`,
 *  then a while longer for duplicates. */
async function kafkajsKeys(port: number, readUncommitted: boolean, expected: number): Promise<string[]> {
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    clientId: 'half-kill9-reader',
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100 },
  });
  const consumer = kafka.consumer({
    groupId: `half-kill9-reader-${Math.random().toString(36).slice(2)}`,
    readUncommitted,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const keys: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void keys.push(message.key?.toString() ?? '') });
    await waitFor(
      `kafkajs (readUncommitted ${readUncommitted}) reading ${expected} orders`,
      () => keys.length >= expected,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await consumer.disconnect();
  }
  return keys.sort();
}

/** Every reader sees exactly `expected` (sorted order ids), each once. */
async function assertEveryReaderSees(port: number, expected: string[], when: string): Promise<void> {
  for (const isolation of ['read_uncommitted', 'read_committed'] as const) {
    assert.deepEqual(await kcatKeys(port, isolation), expected, `kcat ${isolation} ${when}`);
    assert.deepEqual(
      await kafkajsKeys(port, isolation === 'read_uncommitted', expected.length),
      expected,
      `kafkajs ${isolation} ${when}`,
    );
  }
}

test(
  'kill -9 of the order service after its database commit: a second instance commits the order once; a rolled-back ' +
    'order never appears',
  { timeout: 180_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-half-kill9-'));
    const dbPath = join(dataDir, 'orders.sqlite');
    const port = await freePort();
    const broker = startBroker(port, join(dataDir, 'broker'));
    try {
      await brokerUp(broker, port);

      const committed = orderService(port, dbPath, ['create', '--order', 'o-commit', '--cents', '4200']);
      assert.equal(await committed.exited, '0', committed.output());
      assert.match(committed.output(), /order o-commit: committed/);

      const rolledBack = orderService(port, dbPath, ['create', '--order', 'o-rollback', '--fail-local-tx']);
      assert.equal(await rolledBack.exited, '1', rolledBack.output());
      assert.match(rolledBack.output(), /order o-rollback: local transaction failed .* rolled back/);

      // SIGKILL from outside at a random moment after the half message was stored: before, during or
      // after the local transaction, before or after the decision. Whatever it hit, the database decides.
      const killedRun = orderService(port, dbPath, ['create', '--order', 'o-killed', '--cents', '700']);
      await waitFor(
        'the half message of o-killed',
        () => /order o-killed: half message/.test(killedRun.output()),
        30_000,
        5,
      );
      const delayMs = Math.floor(Math.random() * 150);
      await new Promise((r) => setTimeout(r, delayMs));
      await killed(killedRun.child);

      // The last instance alive dies after its database commit, before deciding.
      const crashed = orderService(port, dbPath, [
        'create',
        '--order',
        'o-crash',
        '--customer',
        'bob',
        '--cents',
        '1500',
        '--crash-after-db-commit',
      ]);
      assert.equal(await crashed.exited, 'SIGKILL', crashed.output());

      const inDatabase = await ordersInDatabase(dbPath);
      assert.deepEqual(
        inDatabase.filter((id) => id !== 'o-killed'),
        ['o-commit', 'o-crash'],
        'the rolled-back order is not in the database',
      );
      const expected = inDatabase; // o-killed appears if and only if its row was committed
      console.log(
        `o-killed killed ${delayMs} ms after its half message; in the database: ${inDatabase.includes('o-killed')}; ` +
          `output: ${JSON.stringify(killedRun.output())}`,
      );

      // Checks are sent but nobody alive answers them: the crashed order stays invisible.
      await new Promise((r) => setTimeout(r, 1500));
      const beforeSecondInstance = await kcatKeys(port, 'read_uncommitted');
      assert.ok(
        !beforeSecondInstance.includes('o-crash'),
        `o-crash is undecided and invisible: ${beforeSecondInstance}`,
      );
      assert.ok(!beforeSecondInstance.includes('o-rollback'));

      const server = orderService(port, dbPath, ['serve']);
      await waitFor(
        'the second instance to commit o-crash',
        async () => (await kcatKeys(port, 'read_uncommitted')).includes('o-crash'),
        60_000,
        200,
      ).catch((error: Error) => {
        throw new Error(
          `${error.message}; crashed instance: ${crashed.output()}; second instance: ${server.output()}`,
          { cause: error },
        );
      });
      await waitFor(
        'every pending order decided',
        async () => (await kcatKeys(port, 'read_uncommitted')).length >= expected.length,
        30_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2000)); // later checks (if any) must not add a copy
      await assertEveryReaderSees(port, expected, 'after the check-back');
      assert.match(server.output(), /check \d+ of order o-crash \(half message \d+:\d+\): commit/);
    } finally {
      await killServices();
      await killed(broker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test(
  'kill -9 of the broker with a pending half message: after the restart the check-back commits it once',
  { timeout: 180_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-half-broker-kill9-'));
    const dbPath = join(dataDir, 'orders.sqlite');
    const port = await freePort();
    let broker = startBroker(port, join(dataDir, 'broker'));
    try {
      await brokerUp(broker, port);
      const before = orderService(port, dbPath, ['create', '--order', 'o-before', '--cents', '100']);
      assert.equal(await before.exited, '0', before.output());
      const rolledBack = orderService(port, dbPath, ['create', '--order', 'o-rollback', '--fail-local-tx']);
      assert.equal(await rolledBack.exited, '1', rolledBack.output());
      const pending = orderService(port, dbPath, [
        'create',
        '--order',
        'o-pending',
        '--cents',
        '2500',
        '--crash-after-db-commit',
      ]);
      assert.equal(await pending.exited, 'SIGKILL', pending.output());
      assert.deepEqual(await ordersInDatabase(dbPath), ['o-before', 'o-pending']);

      await killed(broker);
      broker = startBroker(port, join(dataDir, 'broker'));
      await brokerUp(broker, port);
      const afterRestart = await kcatKeys(port, 'read_uncommitted');
      assert.deepEqual(
        afterRestart,
        ['o-before'],
        'after the restart: the committed order once, the pending one still invisible',
      );

      const server = orderService(port, dbPath, ['serve']);
      await waitFor(
        'the check-back to commit o-pending',
        async () => (await kcatKeys(port, 'read_uncommitted')).includes('o-pending'),
        60_000,
        200,
      ).catch((error: Error) => {
        throw new Error(
          `${error.message}; crashed instance: ${pending.output()}; second instance: ${server.output()}`,
          { cause: error },
        );
      });
      await new Promise((r) => setTimeout(r, 2000));
      await assertEveryReaderSees(port, ['o-before', 'o-pending'], 'after the broker restart and the check-back');
      assert.match(server.output(), /check \d+ of order o-pending \(half message \d+:\d+\): commit/);
    } finally {
      await killServices();
      await killed(broker);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
