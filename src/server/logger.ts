// The server logs through the broker's Logger interface (pino-compatible).
export { MemoryLogger, silentLogger, type Logger } from '../broker/logger.js';
