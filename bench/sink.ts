/**
 * The benchmark's SMTP sink, in its own process so it has its own core: accepts every message,
 * keeps nothing but a count. Talks to the parent over IPC: {cmd:'count'} -> {count}. With
 * {cmd:'trace'} it also notes when it answered 250 to each recipient (wall clock, sub-millisecond),
 * for the in-doubt window; {cmd:'accepted'} hands those back.
 */
import { SMTPServer } from 'smtp-server';

let count = 0;
let bytes = 0;
let tracing = false;
/** Recipient -> when the 250 went out (performance.timeOrigin + now: comparable across processes). */
const acceptedAt = new Map<string, number>();
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  maxClients: 1000,
  size: 50 * 1024 * 1024,
  onData(stream, session, callback) {
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => {
      count += 1;
      // Read before answering: the answer resets the session's envelope.
      const recipients = tracing ? session.envelope.rcptTo.map((r) => r.address) : [];
      callback();
      if (tracing) {
        const at = performance.timeOrigin + performance.now();
        for (const r of recipients) acceptedAt.set(r, at);
      }
    });
  },
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.server.address() as { port: number };
  process.send?.({ ready: true, port });
});

// The benchmark that started this sink is gone (it crashed, or was stopped): so is the sink.
process.on('disconnect', () => process.exit(0));

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'count') process.send?.({ count, bytes });
  if (msg.cmd === 'reset') {
    count = 0;
    bytes = 0;
    process.send?.({ count, bytes });
  }
  if (msg.cmd === 'trace') {
    tracing = true;
    acceptedAt.clear();
    process.send?.({ tracing });
  }
  if (msg.cmd === 'accepted') {
    tracing = false;
    process.send?.({ accepted: [...acceptedAt] });
    acceptedAt.clear();
  }
  if (msg.cmd === 'stop') server.close(() => process.exit(0));
});
