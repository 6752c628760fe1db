// A DedupStore on Redis, shared by every consumer process that uses the same server and prefix.
//
//   claim     SET <prefix><id> "claimed:<owner>" NX PX <leaseMs>   → OK: claimed
//             else GET: "done" → done; anything else (another owner's claim, or gone meanwhile) → busy
//   complete  SET <prefix><id> "done" PX <ttlMs>
//   release   delete the key only if it still holds our claim (a Lua compare-and-delete, atomic)
//
// Spoken through ioredis (a maintained Redis client): one connection, commands pipelined by it.
import { errorTypes } from '../runtime/errors.js';
import { Redis } from 'ioredis';
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

export class RedisReplyError extends SluiceClientError {
  override name = 'RedisReplyError';
  constructor(message: string) {
    super(`redis: ${message}`, errorTypes.RedisReplyError.retriable);
  }
}

const RELEASE_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export class RedisDedupStore implements DedupStore {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly address: string;

  constructor(options: RedisDedupStoreOptions = {}) {
    const host = options.host ?? '127.0.0.1';
    const port = integerOption('port', options.port, 6379, 1, 65535);
    const commandTimeout = integerOption('commandTimeoutMs', options.commandTimeoutMs, 5000, 1);
    const db = integerOption('database', options.database, 0, 0);
    this.keyPrefix = options.keyPrefix ?? 'sluice:dedup:';
    this.address = `${host}:${port}`;
    this.redis = new Redis({
      host,
      port,
      db,
      commandTimeout,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      ...(options.password !== undefined ? { password: options.password } : {}),
    });
    // Errors reach the caller through the rejected command; this only keeps them from being unhandled.
    this.redis.on('error', () => undefined);
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Error && error.name === 'ReplyError') throw new RedisReplyError(message);
      throw new ConnectionError(`redis at ${this.address}: ${message}`);
    }
  }

  async claim(id: string, owner: string, leaseMs: number): Promise<ClaimResult> {
    const key = this.keyPrefix + id;
    const set = await this.run(() => this.redis.set(key, `claimed:${owner}`, 'PX', leaseMs, 'NX'));
    if (set === 'OK') return 'claimed';
    const value = await this.run(() => this.redis.get(key));
    return value === 'done' ? 'done' : 'busy';
  }

  async complete(id: string, _owner: string, ttlMs: number): Promise<void> {
    await this.run(() => this.redis.set(this.keyPrefix + id, 'done', 'PX', ttlMs));
  }

  async release(id: string, owner: string): Promise<void> {
    await this.run(() => this.redis.eval(RELEASE_SCRIPT, 1, this.keyPrefix + id, `claimed:${owner}`));
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
