/**
 * The ceiling the pipeline competes with: pre-built messages pushed by pooled nodemailer into
 * the same sink, with no queue, no Redis and no rendering. Run as a child process by bench/run.ts.
 * argv: smtpUrl messages connections inflight messageFile
 */
import fs from 'node:fs';
import nodemailer from 'nodemailer';

async function main(): Promise<void> {
  const [url, messagesArg, connectionsArg, inflightArg, file] = process.argv.slice(2);
  const raw = fs.readFileSync(file as string);
  const total = Number(messagesArg);
  const u = new URL(url as string);
  const transport = nodemailer.createTransport({ pool: true, host: u.hostname, port: Number(u.port), secure: false, ignoreTLS: true, maxConnections: Number(connectionsArg), maxMessages: Infinity });
  // Pre-built: one Buffer per message with its own recipient line, made before the clock starts.
  const messages = Array.from({ length: total }, (_, i) => Buffer.concat([Buffer.from(`X-Bench-Seq: ${i}\r\n`), raw]));
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      const i = next++;
      await transport.sendMail({ envelope: { from: 'bounces@daybreak.example', to: [`ceiling-${i}@example.com`] }, raw: messages[i] });
    }
  };
  await Promise.all(Array.from({ length: Number(inflightArg) }, lane));
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  process.send?.({ messages: total, seconds, rate: total / seconds });
  process.exit(0);
}

void main();
