// A DedupStore on Redis, shared by every consumer process that uses the same server and prefix.
//
//   claim     SET <prefix><id> "claimed:<owner>" NX PX <leaseMs>   → OK: claimed
//             else GET: "done" → done; anything else (another owner's claim, or gone meanwhile) → busy
//   complete  SET <prefix><id> "done" PX <ttlMs>
//   release   delete the key only if it still holds our claim (a Lua compare-and-delete, atomic)
//
// The Redis protocol (RESP2) is spoken directly over one pipelined connection: commands are arrays
// of bulk strings, replies come back in order. No npm dependency.
import { connect, type Socket } from 'node:net';
import type { ClaimResult, DedupStore } from './dedup.js';
import { ConnectionError, SluiceClientError } from './errors.js';
import { integerOption } from './options.js';

export interface RedisDedupStoreOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 6379. */
  port?: number;
  password?: string;
  /** Database number (SELECT), default 0. */
  database?: number;
  /** Prepended to every id (default "sluice:dedup:"). */
  keyPrefix?: string;
  /** Per command (default 5 000). */
  commandTimeoutMs?: number;
}

type Reply = string | number | null | Reply[] | RedisReplyError;

export class RedisReplyError extends SluiceClientError {
  override name = 'RedisReplyError';
  constructor(message: string) {
    super(`redis: ${message}`, false);
  }
}

const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export class RedisDedupStore implements DedupStore {
  private socket: Socket | undefined;
  private opening: Promise<Socket> | undefined;
  private readonly waiting: Array<{ resolve(reply: Reply): void; reject(error: Error): void; timer: NodeJS.Timeout }> = [];
  private buffer: Buffer = Buffer.alloc(0);
  private readonly host: string;
  private readonly port: number;
  private readonly keyPrefix: string;
  private readonly commandTimeoutMs: number;
  private closed = false;

  constructor(private readonly options: RedisDedupStoreOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = integerOption('port', options.port, 6379, 1, 65535);
    this.keyPrefix = options.keyPrefix ?? 'sluice:dedup:';
    this.commandTimeoutMs = integerOption('commandTimeoutMs', options.commandTimeoutMs, 5000, 1);
    integerOption('database', options.database, 0, 0);
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const key = this.keyPrefix + id;
    const set = await this.command(['SET', key, `claimed:${owner}`, 'NX', 'PX', String(leaseMs)]);
    if (set === 'OK') return 'claimed';
    const value = await this.command(['GET', key]);
    return value === 'done' ? 'done' : 'busy';
  }

  async complete(id: string, _owner: string, ttlMs: number): Promise<void> {
    await this.command(['SET', this.keyPrefix + id, 'done', 'PX', String(ttlMs)]);
  }

  async release(id: string, owner: string): Promise<void> {
    await this.command(['EVAL', RELEASE_SCRIPT, '1', this.keyPrefix + id, `claimed:${owner}`]);
  }

  /** Sends one command and resolves with its reply; an error reply rejects with RedisReplyError. */
  async command(args: string[]): Promise<Reply> {
    const socket = await this.open();
    const reply = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ConnectionError(`redis at ${this.host}:${this.port} did not answer within ${this.commandTimeoutMs} ms`)), this.commandTimeoutMs);
      this.waiting.push({ resolve, reject, timer });
      socket.write(encodeCommand(args));
    });
    if (reply instanceof RedisReplyError) throw reply;
    return reply;
  }

  private open(): Promise<Socket> {
    if (this.closed) return Promise.reject(new ConnectionError('the redis store is closed'));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.opening ??= new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', (error) => this.fail(new ConnectionError(`redis at ${this.host}:${this.port}: ${error.message}`, { cause: error })));
        socket.on('close', () => this.fail(new ConnectionError(`redis at ${this.host}:${this.port} closed the connection`)));
        socket.on('data', (data: Buffer) => this.onData(data));
        this.socket = socket;
        resolve(socket);
      });
      socket.once('error', (error) => reject(new ConnectionError(`cannot connect to redis at ${this.host}:${this.port}: ${error.message}`, { cause: error })));
    })
      .then(async (socket) => {
        if (this.options.password !== undefined) await this.command(['AUTH', this.options.password]);
        if (this.options.database) await this.command(['SELECT', String(this.options.database)]);
        return socket;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    for (;;) {
      const parsed = parseReply(this.buffer, 0);
      if (!parsed) return;
      this.buffer = this.buffer.subarray(parsed.end);
      const waiter = this.waiting.shift();
      if (!waiter) continue;
      clearTimeout(waiter.timer);
      waiter.resolve(parsed.value);
    }
  }

  private fail(error: Error): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.buffer = Buffer.alloc(0);
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.socket?.end();
    this.fail(new ConnectionError('the redis store is closed'));
  }
}

function encodeCommand(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** One RESP2 reply at `offset`, or undefined when the bytes are not all there yet. */
function parseReply(buffer: Buffer, offset: number): { value: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, position);
        if (!item) return undefined;
        items.push(item.value);
        position = item.end;
      }
      return { value: items, end: position };
    }
    default:
      throw new ConnectionError(`redis sent an unknown reply type ${JSON.stringify(type)}`);
  }
}
