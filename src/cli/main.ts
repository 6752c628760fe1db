#!/usr/bin/env node
// The `sluice` command. The broker itself arrives with the server layer; until then `start` says so.
const [command] = process.argv.slice(2);
if (command === 'start' || command === undefined) {
  console.log('sluice: the broker is not implemented yet (see README "Status").');
  process.exit(0);
}
console.error(`sluice: unknown command "${command}". Commands: start`);
process.exit(2);
