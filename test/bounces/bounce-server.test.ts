import net from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { startBounceServer, type BounceServer } from '../../src/bounces/bounce-server';
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

/** A bare SMTP client on one socket, to see exactly when each reply comes. */
class RawSmtp {
  private buffer = '';
  private readonly replies: string[] = [];
  private readonly waiting: Array<(reply: string) => void> = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let m = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/.exec(this.buffer); m; m = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/.exec(this.buffer)) {
        this.buffer = this.buffer.slice(m[0].length);
        const last = m[0].trimEnd().split('\n').pop() as string;
        const waiter = this.waiting.shift();
        if (waiter) waiter(last.trim());
        else this.replies.push(last.trim());
      }
    });
  }

  static async open(port: number): Promise<{ session: RawSmtp; greeting: string }> {
    const socket = net.connect(port, '127.0.0.1');
    const session = new RawSmtp(socket);
    return { session, greeting: await session.reply() };
  }

  reply(): Promise<string> {
    const ready = this.replies.shift();
    return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => this.waiting.push(resolve));
  }

  send(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Resolves once every byte is handed to the kernel (the server has read all but a socket buffer of it). */
  write(data: string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, 'latin1', (error) => (error ? reject(error) : resolve())));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A bounce-looking message of ~4.9 MB: long runs of letters, dots, @ and <, then a million short lines. */
function adversarialBounce(to: string): string {
  const run = 600 * 1024;
  const head = ['From: Mail Delivery System <MAILER-DAEMON@mx.reader.example>', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'Message-ID: <adversarial-1@mx.reader.example>', 'Content-Type: text/plain; charset=us-ascii', '', ''].join('\r\n');
  // Dot-stuffed (RFC 5321 4.5.2): the run of dots starts its line.
  return `${head}${'a'.repeat(run)}\r\n.${'.'.repeat(run)}\r\n${'@'.repeat(run)}\r\n${'<'.repeat(run)}\r\n${'\r\n'.repeat(1200 * 1024)}`;
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
    for (const name of ['gone', 'complainer', 'away', 'full', 'fine', 'forwarded']) {
      const { subscriber } = await runtime.subscribers.add({ email: `${name}@reader.example`, newsletters: ['national'], confirmed: true, source: 'test' });
      readers[name] = subscriber.id;
    }
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition).toMatchObject({ state: 'done', sent: 6 });
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
    const kept = await runtime.bounces.listUnparsed(5);
    expect(kept[0]).toMatchObject({ subject: 'hello', rcptTo: [`bounces@${bounceDomain}`] });
    expect(kept[0]?.raw).toContain('right address for questions');
    expect((await runtime.editions.get(editionId))?.bounced).toBe(before);
  });

  test('a bounce to the VERP address that names a forwarding address suppresses the reader we sent to', async () => {
    const copy = sentTo('forwarded@reader.example');
    const raw = [
      'From: Mail Delivery System <MAILER-DAEMON@mailhost.reader.example>',
      `To: ${copy.envelopeFrom}`,
      'Subject: Undelivered Mail Returned to Sender',
      'Message-ID: <fwd-1@mailhost.reader.example>',
      '',
      'This is the mail system at host mailhost.reader.example.',
      '',
      '<fwd-7@store3.mailhost.reader.example>: host store3.mailhost.reader.example[192.0.2.9] said: 550 5.1.1',
      '    <fwd-7@store3.mailhost.reader.example>: Recipient address rejected: User unknown (in reply to RCPT TO command)',
      '',
    ].join('\r\n');
    expect((await deliver(copy.envelopeFrom, raw)).response).toMatch(/^250 .*bounce recorded/);
    expect(await runtime.subscribers.suppression('forwarded@reader.example')).toMatchObject({ reason: 'hard bounce', evidence: { status: '5.1.1', editionId, attribution: 'verp' } });
    expect(await runtime.subscribers.isSuppressed('fwd-7@store3.mailhost.reader.example')).toBe(false);
    const log = await bounceReport(runtime, { since: new Date(0), editionId });
    expect(log.entries.filter((e) => e.email === 'forwarded@reader.example').map((e) => e.kind)).toEqual(['hard']);
  });

  test('a second connection gets its greeting and its replies while a big adversarial message is parsed', async () => {
    const first = (await RawSmtp.open(server.port)).session;
    let second: RawSmtp | undefined;
    try {
      for (const command of ['EHLO first.example', 'MAIL FROM:<>', `RCPT TO:<bounces@${bounceDomain}>`]) expect(await first.send(command)).toMatch(/^250/);
      expect(await first.send('DATA')).toMatch(/^354/);
      const order: string[] = [];
      const answered = first.reply().then((reply) => {
        order.push('first message answered');
        return reply;
      });
      await first.write(`${adversarialBounce(`bounces@${bounceDomain}`)}\r\n.\r\n`);
      // The whole message is with the server now: it is parsing it while the second client talks.
      const opened = await RawSmtp.open(server.port);
      second = opened.session;
      order.push('second connection greeted');
      expect(opened.greeting).toMatch(/^220 /);
      expect(await second.send('EHLO second.example')).toMatch(/^250 /);
      expect(await second.send('NOOP')).toMatch(/^250 /);
      order.push('second connection answered');
      expect(await answered).toMatch(/^250 /);
      expect(order).toEqual(['second connection greeted', 'second connection answered', 'first message answered']);
      // It was read, found to name no one, and kept for ops (first 256 KB), not refused.
      expect((await runtime.bounces.listUnparsed(1))[0]).toMatchObject({ subject: 'Undelivered Mail Returned to Sender', rcptTo: [`bounces@${bounceDomain}`] });
    } finally {
      first.close();
      second?.close();
    }
  });

  test('mail for any other domain is refused: the bounce server is no relay', async () => {
    await expect(deliver('someone@elsewhere.example', 'Subject: x\r\n\r\nx\r\n')).rejects.toMatchObject({ responseCode: 550 });
    expect(await runtime.subscribers.isSuppressed('fine@reader.example')).toBe(false);
  });
});
