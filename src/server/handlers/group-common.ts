// Shared by the group handlers: the client host Kafka reports for a member ("/<address>").
/** "/127.0.0.1" from a peer "127.0.0.1:54321" (or "[::1]:54321"), as Kafka prints client hosts. */
export function clientHostOf(peer: string): string {
  const colon = peer.lastIndexOf(':');
  const address = colon > 0 ? peer.slice(0, colon) : peer;
  return '/' + address.replace(/^\[(.*)\]$/, '$1');
}
