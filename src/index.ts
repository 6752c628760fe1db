// Public entry point of the `sluice` package.
export * as protocol from './protocol/index.js';
export { startBroker, ListenError, ConfigError, DataDirError } from './server/start-broker.js';
export type { StartBrokerOptions, StartedBroker, Broker, Logger } from './server/start-broker.js';
export * from './client/index.js';
