// An order service that keeps its orders in SQLite and tells other services about each new order
// with a half message (docs/half-messages.md): the "order created" message reaches the topic `orders`
// if and only if the order row was committed — also when this process dies in between.
//
//   node examples/half-messages/order-service.mjs create [--order ID] [--customer C] [--cents N]
//        [--fail-local-tx] [--crash-after-db-commit]
//   node examples/half-messages/order-service.mjs serve [--for-ms N]
//
//   create   stores a half message, runs the local transaction (INSERT + COMMIT, the database file
//            written and fsync'ed), then commits the message — or rolls it back when the local
//            transaction failed (--fail-local-tx, a duplicate order id, cents <= 0).
//            --crash-after-db-commit: SIGKILL itself after the row is durable, before deciding.
//   serve    only answers the broker's checks (a restarted instance, or a second one).
//
// While it runs, every instance answers the broker's checks for the group `order-service`: the
// checker looks the order up in the database file. Common flags: --bootstrap host:port
// (default $SLUICE_BOOTSTRAP or 127.0.0.1:9092), --db path (default ./orders.sqlite),
// --session-timeout-ms N (how soon the checks of a dead instance go to a live one; default 6000).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import initSqlJs from 'sql.js';
import { Admin, HalfMessageProducer, stringSerde } from '../../dist/src/index.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    bootstrap: { type: 'string', default: process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092' },
    db: { type: 'string', default: 'orders.sqlite' },
    order: { type: 'string', default: `o-${Date.now()}` },
    customer: { type: 'string', default: 'alice' },
    cents: { type: 'string', default: '4200' },
    'fail-local-tx': { type: 'boolean', default: false },
    'crash-after-db-commit': { type: 'boolean', default: false },
    'for-ms': { type: 'string' },
    'session-timeout-ms': { type: 'string', default: '6000' },
  },
});
const command = positionals[0];
if (command !== 'create' && command !== 'serve') {
  console.error('usage: order-service.mjs create [--order ID] [--customer C] [--cents N] [--fail-local-tx] [--crash-after-db-commit] | serve [--for-ms N]');
  process.exit(2);
}
const bootstrap = values.bootstrap;
const dbPath = resolve(values.db);
const log = (line) => console.log(`[order-service ${process.pid}] ${line}`);

// ── the local database ─────────────────────────────────────────────────────────────────────────

const SQL = await initSqlJs();

/** The database as the file holds it: what survived, whoever wrote it. */
function openDatabase() {
  const db = existsSync(dbPath) ? new SQL.Database(readFileSync(dbPath)) : new SQL.Database();
  db.run(`CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    customer TEXT NOT NULL,
    cents INTEGER NOT NULL CHECK (cents > 0),
    half_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`);
  return db;
}

/** sql.js keeps the database in memory: a commit is durable once the file is written and fsync'ed. */
function persist(db) {
  const bytes = db.export();
  const temporary = `${dbPath}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // Rename over the old file (a crash leaves the old or the new database, never half of one) and
  // fsync the directory so the rename itself survives.
  renameSync(temporary, dbPath);
  const directory = openSync(dirname(dbPath), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** The local transaction: the order row, committed and durable, or nothing. */
function insertOrder(order, halfId, { fail }) {
  const db = openDatabase();
  try {
    db.run('BEGIN');
    try {
      db.run('INSERT INTO orders (id, customer, cents, half_id, created_at) VALUES (?, ?, ?, ?, ?)', [order.id, order.customer, order.cents, halfId, order.createdAt]);
      if (fail) throw new Error('simulated failure inside the local transaction (--fail-local-tx)');
      db.run('COMMIT');
    } catch (error) {
      db.run('ROLLBACK');
      throw error;
    }
    persist(db);
  } finally {
    db.close();
  }
}

function orderExists(orderId) {
  const db = openDatabase();
  try {
    const statement = db.prepare('SELECT 1 FROM orders WHERE id = ?');
    try {
      statement.bind([orderId]);
      return statement.step();
    } finally {
      statement.free();
    }
  } finally {
    db.close();
  }
}

// ── the half message producer ──────────────────────────────────────────────────────────────────

const admin = new Admin({ bootstrap });
await admin.createTopics([{ name: 'orders', partitions: 3 }], { ignoreExisting: true });
await admin.close();

const producer = new HalfMessageProducer({
  bootstrap,
  producerGroup: 'order-service',
  keySerializer: stringSerde.serialize,
  valueSerializer: stringSerde.serialize,
  keyDeserializer: stringSerde.deserialize,
  valueDeserializer: stringSerde.deserialize,
  checkConsumer: { sessionTimeoutMs: Number(values['session-timeout-ms']), heartbeatIntervalMs: 500 },
  // Asked by the broker about a message that stayed undecided (its sender died, or could not
  // decide): the order row is there if and only if the local transaction committed. (A service whose
  // transactions can outlast transaction.check.delay.ms would answer 'unknown' for young messages.)
  checker: (message) => {
    const decision = orderExists(message.key) ? 'commit' : 'rollback';
    log(`check ${message.attempt} of order ${message.key} (half message ${message.halfId}): ${decision}`);
    return decision;
  },
});
await producer.connect();

if (command === 'serve') {
  log(`answering checks for the producer group order-service${values['for-ms'] ? ` for ${values['for-ms']} ms` : ' (Ctrl-C stops)'}`);
  const stop = () => producer.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (values['for-ms']) setTimeout(stop, Number(values['for-ms']));
} else {
  const order = { id: values.order, customer: values.customer, cents: Number(values.cents), createdAt: new Date().toISOString() };
  const half = await producer.sendHalf('orders', { key: order.id, value: JSON.stringify(order), headers: { source: 'order-service' } });
  log(`order ${order.id}: half message ${half.id} stored (for orders partition ${half.partition}; invisible until committed)`);
  try {
    insertOrder(order, half.id, { fail: values['fail-local-tx'] });
  } catch (error) {
    await half.rollback();
    log(`order ${order.id}: local transaction failed (${error.message}); message rolled back`);
    await producer.close();
    process.exit(1);
  }
  log(`order ${order.id}: saved in ${dbPath}`);
  if (values['crash-after-db-commit']) {
    log(`order ${order.id}: crashing before deciding (SIGKILL); the broker will ask another instance`);
    process.kill(process.pid, 'SIGKILL');
  }
  await half.commit();
  log(`order ${order.id}: committed; visible in orders partition ${half.partition}`);
  await producer.close();
}
