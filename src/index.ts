// Public entry point of the `sluice` package.
export * as protocol from './protocol/index.js';
