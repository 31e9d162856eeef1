/**
 * The benchmark's SMTP sink, in its own process so it has its own core: accepts every message,
 * keeps nothing but a count. Talks to the parent over IPC: {cmd:'count'} -> {count}.
 */
import { SMTPServer } from 'smtp-server';

let count = 0;
let bytes = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  maxClients: 1000,
  size: 50 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => {
      count += 1;
      callback();
    });
  },
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.server.address() as { port: number };
  process.send?.({ ready: true, port });
});

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'count') process.send?.({ count, bytes });
  if (msg.cmd === 'reset') {
    count = 0;
    bytes = 0;
    process.send?.({ count, bytes });
  }
  if (msg.cmd === 'stop') server.close(() => process.exit(0));
});
