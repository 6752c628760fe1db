// @platformatic/kafka clients for the tests that run it against our broker (test/clients/platformatic*.test.ts):
// short retries (against one broker on loopback a failure is a failure, not a transient) and a way to
// find a broker error code in the client's nested errors.
import { Admin, Producer, stringSerializers, type CompressionAlgorithmValue } from '@platformatic/kafka';

export const clientOptions = (bootstrap: string) => ({
  clientId: 'platformatic-test',
  bootstrapBrokers: [bootstrap],
  retries: 1,
  retryDelay: 50,
  timeout: 5000,
});

export function newAdmin(bootstrap: string): Admin {
  return new Admin(clientOptions(bootstrap));
}

export function newProducer(
  bootstrap: string,
  options: { idempotent?: boolean; compression?: CompressionAlgorithmValue } = {},
): Producer<string, string, string, string> {
  return new Producer({ ...clientOptions(bootstrap), serializers: stringSerializers, ...options });
}

export type ClientError = Error & { code?: string; apiId?: string; errors?: ClientError[] };

/** @platformatic/kafka wraps broker error codes in (nested) AggregateErrors; this finds one by name or code. */
export function failedWith(name: string): (error: ClientError) => boolean {
  const found = (error: ClientError, depth: number): boolean =>
    error.apiId === name ||
    error.code === name ||
    (depth < 5 && (error.errors ?? []).some((inner) => found(inner, depth + 1)));
  return (error) => found(error, 0);
}
