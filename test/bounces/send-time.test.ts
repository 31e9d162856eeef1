import type { Worker } from 'bullmq';
import { bounceReport } from '../../src/bounces/report';
import { FixedClock } from '../../src/core/clock';
import type { Edition } from '../../src/delivery/edition';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/app/runtime';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const delivery = { concurrency: 4, smtpMaxConnections: 2, attempts: 2, backoffMs: 30, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000 };

describe('bounces said at SMTP time, on a real edition through a real SMTP server', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  const clock = new FixedClock('2026-11-24T06:00:00Z');
  let edition: Edition;

  beforeAll(async () => {
    // What may pass (5.2.2, 421) is retried until the send window closes: the test's clock closes
    // it once both have been refused twice.
    const tries = new Map<string, number>();
    const tried = (address: string, attempt: number) => {
      tries.set(address, attempt);
      if ((tries.get('full@reader.example') ?? 0) >= 2 && (tries.get('flaky@reader.example') ?? 0) >= 2) clock.set('2026-11-24T12:00:00Z');
    };
    sink = await startSmtpSink({
      refuse: (address, attempt) => {
        if (address === 'gone@reader.example') return { code: 550, message: '5.1.1 <gone@reader.example>: Recipient address rejected: User unknown' };
        if (address === 'full@reader.example') return tried(address, attempt), { code: 552, message: '5.2.2 <full@reader.example>: Mailbox full' };
        if (address === 'listed@reader.example') return { code: 554, message: '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org' };
        if (address === 'flaky@reader.example') return tried(address, attempt), { code: 421, message: '4.4.2 mx.reader.example Error: timeout exceeded, closing connection' };
        return undefined;
      },
    });
    const config = testConfig(uniquePrefix('send-bounce'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])), delivery, bounces: { breaker: { enabled: false } } });
    runtime = testRuntime(config, { clock });
    for (const name of ['gone', 'full', 'listed', 'flaky', 'fine']) await runtime.subscribers.add({ email: `${name}@reader.example`, newsletters: ['national'], confirmed: true, source: 'test' });
    edition = (await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' })).edition;
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('a 5xx user-unknown is a hard bounce: failed at once, the reply kept, the reader suppressed', async () => {
    expect(edition).toMatchObject({ state: 'done', sent: 1, failed: 4 });
    expect(sink.refusals.get('gone@reader.example')).toBe(1); // never retried
    const id = (await runtime.subscribers.findIdByEmail('gone@reader.example')) as string;
    expect((await runtime.editions.ledgerEntry(edition.id, id))?.detail).toMatch(/550 5\.1\.1 .*User unknown/);
    expect(await runtime.subscribers.suppression('gone@reader.example')).toMatchObject({ reason: 'hard bounce', source: 'smtp', evidence: { replyCode: 550, status: '5.1.1', editionId: edition.id, attribution: 'send' } });
  });

  test('5.2.2 mailbox full is retried, then counted as a soft bounce, not suppressed', async () => {
    expect(sink.refusals.get('full@reader.example')).toBeGreaterThanOrEqual(2);
    expect(await runtime.subscribers.isSuppressed('full@reader.example')).toBe(false);
    const r = await bounceReport(runtime, { since: new Date(0), editionId: edition.id });
    expect(r.entries.find((e) => e.email === 'full@reader.example')).toMatchObject({ kind: 'soft', reason: 'mailboxfull', action: 'soft 1/3' });
  });

  test('a blocklisting is soft for the reader but counted as a block for the edition', async () => {
    expect(await runtime.subscribers.isSuppressed('listed@reader.example')).toBe(false);
    expect(await runtime.redis.hget(runtime.keys.edition(edition.id), 'blocked')).toBe('1');
  });

  test('connection trouble (421) is retried and never counted against the reader', async () => {
    expect(sink.refusals.get('flaky@reader.example')).toBeGreaterThanOrEqual(2);
    const r = await bounceReport(runtime, { since: new Date(0), editionId: edition.id });
    expect(r.entries.find((e) => e.email === 'flaky@reader.example')).toBeUndefined();
    expect(await runtime.subscribers.isSuppressed('flaky@reader.example')).toBe(false);
    // The edition counts each bouncing reader once: gone (hard), full (soft), listed (blocked).
    const e = await runtime.editions.get(edition.id);
    expect(e).toMatchObject({ bounced: 3, complaints: 0 });
    expect(await runtime.redis.hget(runtime.keys.edition(edition.id), 'bouncedHard')).toBe('1');
  });
});

describe('the circuit breaker on a real send: a bad import pauses the edition mid-send', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  const clock = new FixedClock('2026-11-25T06:00:00Z');
  const workers: Worker[] = [];

  beforeAll(async () => {
    // A third of the imported addresses do not exist.
    sink = await startSmtpSink({ refuse: (address) => (/^bad-/.test(address) ? { code: 550, message: `5.1.1 <${address}>: no such user` } : undefined), dataDelayMs: 5 });
    const config = testConfig(uniquePrefix('breaker'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-25'])),
      delivery: { ...delivery, concurrency: 1 },
      bounces: { breaker: { minSends: 12, bounceRate: 0.05, complaintRate: 0.003 } },
    });
    runtime = testRuntime(config, { clock });
    for (let i = 1; i <= 60; i++) await runtime.subscribers.add({ email: `${i % 3 === 0 ? 'bad' : 'good'}-${i}@import.example`, newsletters: ['national'], confirmed: true, source: 'import' });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await closeRuntime(runtime);
    await sink.close();
  });

  test('the edition pauses itself with the reason, and its unsent readers stay queued', async () => {
    const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-25', trigger: 'manual' });
    workers.push(createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'], concurrency: 1 }));
    let current: Edition | undefined;
    for (let i = 0; i < 200; i++) {
      current = await runtime.editions.get(edition.id);
      if (current?.state === 'paused' || current?.state === 'done') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(current?.state).toBe('paused');
    expect(current?.reason).toMatch(/^circuit breaker: hard-bounce rate \d+\.\d% \(\d+ of \d+ sends, blocks included\) passed 5\.0%/);
    // Give the workers a moment: a paused edition sends nothing more.
    await new Promise((r) => setTimeout(r, 600));
    const later = (await runtime.editions.get(edition.id)) as Edition;
    expect(later.state).toBe('paused');
    expect(later.total).toBe(60);
    expect(later.sent + later.failed).toBeLessThan(30);
    expect(sink.messages.length).toBe(later.sent);
    expect(await runtime.queues.send('national').getDelayedCount() + (await runtime.queues.send('national').getWaitingCount())).toBeGreaterThan(0);
    expect((await runtime.editions.history(edition.id)).some((h) => h.event === 'paused' && h.by === 'circuit-breaker')).toBe(true);
  });
});
