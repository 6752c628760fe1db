// What one Kafka API handler declares: its key, the versions it serves, and how it answers.
// The ApiVersions response is derived from the table of these (handlers/index.ts).

export interface VersionRange {
  min: number;
  max: number;
}

export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** "address:port" of the client, for logs. */
  peer: string;
  connectionId: number;
  /** Aborted when the connection closes, so a parked request (long-poll Fetch) can stop waiting. */
  signal: AbortSignal;
}

export interface KafkaHandler<Request = any, Response = any> {
  apiKey: number;
  name: string;
  /** Versions this handler decodes and answers. */
  versions: VersionRange;
  /** Versions advertised in ApiVersions when wider than `versions` (Produce 0-2: advertised, then
   *  refused by closing the connection, as Kafka does). */
  advertised?: VersionRange;
  /** Returns the response body, or null for "send nothing" (Produce with acks=0). */
  handle(request: Request, context: RequestContext): Promise<Response | null> | Response | null;
}
