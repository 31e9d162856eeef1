import nodemailer, { type Transporter } from 'nodemailer';
import { startBounceServer, type BounceServer } from '../../src/bounces/bounce-server';
import { listUnparsed } from '../../src/bounces/inbound';
import { bounceReport } from '../../src/bounces/report';
import { parseVerpAddress } from '../../src/mail/verp';
import { FixedClock } from '../../src/core/clock';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/app/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type CapturedMessage, type SmtpSink } from '../helpers/smtp-sink';

const bounceDomain = 'bounces.daybreak.test';

/** The returned message's header block, as an MTA quotes it in a DSN. */
function headersOf(message: CapturedMessage): string {
  const raw = message.raw.toString('latin1');
  return raw.slice(0, raw.search(/\r?\n\r?\n/)).replace(/\r?\n/g, '\r\n');
}

function dsn(input: { to: string; recipient: string; status: string; diagnostic: string; original: string; id: string; action?: string }): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.reader.example>',
    `To: ${input.to}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <${input.id}@mx.reader.example>`,
    'Date: Tue, 24 Nov 2026 06:01:00 +0000',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"',
    '',
    '--BOUNDARY',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.reader.example.',
    '',
    `<${input.recipient}>: host mx.reader.example[192.0.2.10] said: ${input.diagnostic} (in reply to RCPT TO command)`,
    '',
    '--BOUNDARY',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.reader.example',
    '',
    `Final-Recipient: rfc822; ${input.recipient}`,
    `Action: ${input.action ?? 'failed'}`,
    `Status: ${input.status}`,
    `Diagnostic-Code: smtp; ${input.diagnostic}`,
    '',
    '--BOUNDARY',
    'Content-Type: text/rfc822-headers',
    '',
    input.original,
    '',
    '--BOUNDARY--',
    '',
  ].join('\r\n');
}

describe('the bounce server end to end: an edition goes out with VERP senders, DSNs come back over SMTP', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let server: BounceServer;
  let client: Transporter;
  const clock = new FixedClock('2026-11-24T06:00:00Z');
  const readers: Record<string, string> = {};
  const editionId = 'national-2026-11-24';
  const sentTo = (email: string) => sink.messages.find((m) => m.recipients[0] === email) as CapturedMessage;
  const deliver = (envelopeTo: string, raw: string) => client.sendMail({ envelope: { from: '', to: [envelopeTo] }, raw });

  beforeAll(async () => {
    sink = await startSmtpSink();
    const config = testConfig(uniquePrefix('bounce-server'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])),
      delivery: { concurrency: 5, smtpMaxConnections: 2, attempts: 2, backoffMs: 50, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000, bounceDomain },
      bounces: { server: { host: '127.0.0.1', port: 0 }, breaker: { enabled: false } },
    });
    runtime = testRuntime(config, { clock });
    for (const name of ['gone', 'complainer', 'away', 'full', 'fine']) {
      const { subscriber } = await runtime.subscribers.add({ email: `${name}@reader.example`, newsletters: ['national'], confirmed: true, source: 'test' });
      readers[name] = subscriber.id;
    }
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition).toMatchObject({ state: 'done', sent: 5 });
    server = await startBounceServer(runtime, { port: 0, host: '127.0.0.1' });
    client = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  test('every copy went out with its own VERP envelope sender naming the edition and reader', () => {
    const settings = { secret: runtime.config.secret, localPart: 'bounces', domain: bounceDomain };
    for (const [name, id] of Object.entries(readers)) {
      const copy = sentTo(`${name}@reader.example`);
      expect(copy.envelopeFrom).toMatch(new RegExp(`^bounces\\+national-20261124\\.${id}\\.[0-9a-f]{12}@${bounceDomain.replace(/\./g, '\\.')}$`));
      expect(parseVerpAddress(settings, copy.envelopeFrom)).toEqual({ ok: true, target: { editionId, subscriberId: id } });
    }
  });

  test('a DSN to the VERP address suppresses the reader and counts on the edition, once', async () => {
    const copy = sentTo('gone@reader.example');
    const raw = dsn({ to: copy.envelopeFrom, recipient: 'gone@reader.example', status: '5.1.1', diagnostic: '550 5.1.1 <gone@reader.example>: Recipient address rejected: User unknown in local recipient table', original: headersOf(copy), id: 'dsn-1' });
    const info = await deliver(copy.envelopeFrom, raw);
    expect(info.response).toMatch(/^250 .*bounce recorded/);
    expect(await runtime.subscribers.suppression('gone@reader.example')).toMatchObject({ reason: 'hard bounce', source: 'dsn', evidence: { status: '5.1.1', editionId, attribution: 'verp' } });
    let edition = await runtime.editions.get(editionId);
    expect(edition).toMatchObject({ bounced: 1, complaints: 0 });

    // The remote MTA sends the same report again (it never saw our 250, say): nothing more is counted.
    expect((await deliver(copy.envelopeFrom, raw)).response).toMatch(/^250 .*already recorded/);
    edition = await runtime.editions.get(editionId);
    expect(edition?.bounced).toBe(1);
    const log = await bounceReport(runtime, { since: new Date(0), editionId });
    expect(log.entries.filter((e) => e.email === 'gone@reader.example')).toHaveLength(1);
  });

  test('an ARF complaint that names the VERP sender unsubscribes and suppresses the reader', async () => {
    const copy = sentTo('complainer@reader.example');
    const arf = [
      'From: Feedback Loop <fbl@isp.example>',
      `To: fbl@${bounceDomain}`,
      'Subject: Complaint about message',
      'Message-ID: <arf-1@isp.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"',
      '',
      '--ARF',
      'Content-Type: text/plain',
      '',
      'This is an email abuse report.',
      '',
      '--ARF',
      'Content-Type: message/feedback-report',
      '',
      'Feedback-Type: abuse',
      'User-Agent: ISP-FBL/1.0',
      'Version: 1',
      `Original-Mail-From: <${copy.envelopeFrom}>`,
      'Original-Rcpt-To: <complainer@reader.example>',
      '',
      '--ARF',
      'Content-Type: text/rfc822-headers',
      '',
      headersOf(copy),
      '',
      '--ARF--',
      '',
    ].join('\r\n');
    await deliver(`fbl@${bounceDomain}`, arf);
    expect((await runtime.subscribers.get(readers.complainer!))?.status).toBe('unsubscribed');
    expect(await runtime.subscribers.suppression('complainer@reader.example')).toMatchObject({ reason: 'spam complaint' });
    expect((await runtime.editions.get(editionId))?.complaints).toBe(1);
  });

  test('an out-of-office reply is ignored', async () => {
    const copy = sentTo('away@reader.example');
    const reply = ['From: Away <away@reader.example>', `To: ${copy.envelopeFrom}`, 'Subject: Out of Office: National briefing', 'Auto-Submitted: auto-replied', 'Message-ID: <ooo-1@reader.example>', '', 'I am out of the office until Monday with limited access to email.', ''].join('\r\n');
    const info = await deliver(copy.envelopeFrom, reply);
    expect(info.response).toMatch(/^250 .*noted/);
    expect(await runtime.subscribers.isSuppressed('away@reader.example')).toBe(false);
    expect((await runtime.editions.get(editionId))?.bounced).toBe(1);
  });

  test('without a VERP token, our Message-ID in the returned headers still finds the copy', async () => {
    const copy = sentTo('full@reader.example');
    const raw = dsn({ to: `postmaster@${bounceDomain}`, recipient: 'full@reader.example', status: '5.2.2', diagnostic: '552 5.2.2 <full@reader.example>: Mailbox full', original: headersOf(copy), id: 'dsn-2' });
    await deliver(`postmaster@${bounceDomain}`, raw);
    const log = await bounceReport(runtime, { since: new Date(0), editionId });
    expect(log.entries.find((e) => e.email === 'full@reader.example')).toMatchObject({ kind: 'soft', reason: 'mailboxfull', attribution: 'message-id', action: 'soft 1/3' });
    expect(await runtime.subscribers.isSuppressed('full@reader.example')).toBe(false);
    expect((await runtime.editions.get(editionId))?.bounced).toBe(2);
  });

  test('a message it cannot read is kept for ops and never counted', async () => {
    const before = (await runtime.editions.get(editionId))?.bounced;
    await deliver(`bounces@${bounceDomain}`, ['From: someone@else.example', `To: bounces@${bounceDomain}`, 'Subject: hello', '', 'Is this the right address for questions?', ''].join('\r\n'));
    const kept = await listUnparsed(runtime, 5);
    expect(kept[0]).toMatchObject({ subject: 'hello', rcptTo: [`bounces@${bounceDomain}`] });
    expect(kept[0]?.raw).toContain('right address for questions');
    expect((await runtime.editions.get(editionId))?.bounced).toBe(before);
  });

  test('mail for any other domain is refused: the bounce server is no relay', async () => {
    await expect(deliver('someone@elsewhere.example', 'Subject: x\r\n\r\nx\r\n')).rejects.toMatchObject({ responseCode: 550 });
    expect(await runtime.subscribers.isSuppressed('fine@reader.example')).toBe(false);
  });
});
