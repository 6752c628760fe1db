// Raw-frame group members for the group-protocol tests (test/server/group-protocol-*.test.ts): one
// connection per member, the JoinGroup request a consumer sends, and the broker properties that make
// rebalances quick and limits small enough to reach.
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeMessage as encodeSubscription } from '../../src/protocol/generated/consumer-protocol-subscription.js';
import { RawClient } from './raw-client.js';

/** No initial rebalance delay, short sessions allowed, and small limits (group size, group count). */
export const groupProperties = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'offsets.topic.num.partitions': '2',
  'group.max.size': '3',
  'sluice.groups.max': '20',
};

/** One member's connection: request → decoded response body. */
export class Conn {
  private correlationId = 0;
  private constructor(private readonly client: RawClient) {}
  static async open(port: number): Promise<Conn> {
    return new Conn(await RawClient.connect(port));
  }
  async call(apiKey: number, version: number, body: object, timeoutMs = 5000): Promise<any> {
    const index = this.client.frames.length;
    this.client.request(apiKey, version, this.correlationId++, body);
    const frames = await this.client.waitForFrames(index + 1, timeoutMs);
    if (frames.length <= index) throw new Error(`no answer to api ${apiKey} v${version} within ${timeoutMs} ms`);
    return RawClient.decode(apiKey, version, frames[index]!).body;
  }
  close(): void {
    this.client.close();
  }
}

export function subscription(...topics: string[]): Buffer {
  const body = encodeSubscription(0, { topics, userData: null }).toBuffer();
  const versioned = Buffer.alloc(2 + body.length);
  body.copy(versioned, 2);
  return versioned;
}

export const join = (
  groupId: string,
  memberId: string,
  options: {
    instance?: string | null;
    sessionTimeoutMs?: number;
    rebalanceTimeoutMs?: number;
    protocols?: Array<{ name: string; metadata: Buffer }>;
    protocolType?: string;
  } = {},
) => ({
  groupId,
  sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
  rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 5000,
  memberId,
  groupInstanceId: options.instance ?? null,
  protocolType: options.protocolType ?? 'consumer',
  protocols: options.protocols ?? [{ name: 'range', metadata: subscription('orders') }],
});

/** KIP-394: a v4+ join without an id is answered MEMBER_ID_REQUIRED with the id to use. */
export async function joinDynamic(
  conn: Conn,
  groupId: string,
  options: { sessionTimeoutMs?: number } = {},
): Promise<any> {
  const first = await conn.call(ApiKey.JoinGroup, 5, join(groupId, '', options));
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.length > 0);
  return conn.call(ApiKey.JoinGroup, 5, join(groupId, first.memberId, options));
}

export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
