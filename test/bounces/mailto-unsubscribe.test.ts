import nodemailer, { type Transporter } from 'nodemailer';
import { startBounceServer, type BounceServer } from '../../src/bounces/bounce-server';
import { FixedClock } from '../../src/core/clock';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/delivery/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const bounceDomain = 'bounces.daybreak.example';

describe('List-Unsubscribe mailto, read by the bounce server', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let server: BounceServer;
  let client: Transporter;

  beforeAll(async () => {
    sink = await startSmtpSink();
    const config = testConfig(uniquePrefix('mailto-unsub'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])),
      delivery: { concurrency: 5, smtpMaxConnections: 2, attempts: 2, backoffMs: 50, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000, bounceDomain },
      // The server runs, so something reads the mailto: only then do emails list one.
      bounces: { server: { enabled: true, host: '127.0.0.1', port: 0 } },
    });
    runtime = testRuntime(config, { clock: new FixedClock('2026-11-24T06:00:00Z') });
    for (const name of ['leaver', 'stayer']) await runtime.subscribers.add({ email: `${name}@reader.example`, newsletters: ['national'], confirmed: true });
    server = await startBounceServer(runtime, { port: 0, host: '127.0.0.1' });
    client = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true });
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  test('each copy lists its own mailto beside the https link, and mailing it unsubscribes that reader', async () => {
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition.sent).toBe(2);
    const header = (email: string) => {
      const raw = sink.messages.find((m) => m.recipients[0] === email)?.raw.toString('latin1') ?? '';
      return /^List-Unsubscribe: (.*(?:\r\n[ \t].*)*)/m.exec(raw)?.[1]?.replace(/\r\n[ \t]+/g, ' ') ?? '';
    };
    const leaver = header('leaver@reader.example');
    const stayer = header('stayer@reader.example');
    expect(leaver).toMatch(/^<http:\/\/daybreak\.test\/unsubscribe\/[^>]+>, <mailto:unsubscribe\+\d+\.[0-9a-f]{16}@bounces\.daybreak\.example\?subject=unsubscribe>$/);
    const mailto = /<mailto:([^?>]+)/.exec(leaver)?.[1] as string;
    expect(stayer).not.toContain(mailto);

    // What a mail client does for "unsubscribe" when it uses the mailto.
    await client.sendMail({ from: 'leaver@reader.example', to: mailto, subject: 'unsubscribe', text: 'unsubscribe' });
    expect((await runtime.subscribers.findByEmail('leaver@reader.example'))?.status).toBe('unsubscribed');
    expect((await runtime.subscribers.findByEmail('stayer@reader.example'))?.status).toBe('confirmed');
    const history = await runtime.subscribers.history((await runtime.subscribers.findIdByEmail('leaver@reader.example')) as string);
    expect(history.some((h) => h.event === 'unsubscribed' && JSON.stringify(h.detail).includes('mailto'))).toBe(true);
  });

  test('a made-up unsubscribe address is refused and changes nothing', async () => {
    const id = (await runtime.subscribers.findIdByEmail('stayer@reader.example')) as string;
    await expect(client.sendMail({ from: 'x@evil.example', to: `unsubscribe+${id}.0000000000000000@${bounceDomain}`, subject: 'unsubscribe', text: 'x' })).rejects.toThrow(/550/);
    expect((await runtime.subscribers.get(id))?.status).toBe('confirmed');
  });
});
