// Worker thread for the loopback TCP limit (machine-limits.ts): connects to the port it is given and
// writes 64 KiB buffers for `durationMs`, honouring backpressure ('drain'), then ends the stream.
// Sender and receiver on two threads, as a client process and the broker would be.
import { connect } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

const { port, durationMs, chunkBytes } = workerData as { port: number; durationMs: number; chunkBytes: number };
const chunk = Buffer.alloc(chunkBytes, 0x5a);
const socket = connect({ host: '127.0.0.1', port });
socket.setNoDelay(true);
socket.once('connect', () => {
  const deadline = performance.now() + durationMs;
  let sent = 0;
  const pump = (): void => {
    while (performance.now() < deadline) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end(() => parentPort?.postMessage({ sent }));
  };
  pump();
});
socket.on('error', (error) => {
  parentPort?.postMessage({ error: error.message });
});
