// A loopback TCP proxy in front of a broker for tests that need to see or change the bytes on the
// wire: the client's bytes go to the broker unchanged; the broker's go through `fromBroker`, which
// writes what the client should get (re-cut, damaged, delayed).
import { connect, createServer, type Socket } from 'node:net';

export interface Proxy {
  port: number;
  close(): void;
}

/** `fromBroker` is called per connection; it returns the handler for that connection's broker bytes. */
export async function startProxy(
  brokerPort: number,
  fromBroker: (client: Socket) => (data: Buffer) => void,
): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: brokerPort });
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    client.pipe(upstream);
    upstream.on('data', fromBroker(client));
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
