import type { Worker } from 'bullmq';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import { FixedClock } from '../../src/core/clock';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { fanOut } from '../../src/delivery/fanout';
import { parseMessageId } from '../../src/mail/personalise';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/app/runtime';
import { waitForEdition } from '../../src/ops/watch';
import { buildWebServer } from '../../src/web/server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

// Tuesday 24 November 2026, 06:00 in London (GMT): the national edition's slot.
const morning = '2026-11-24T06:00:00Z';
const names = ['Ada Lovelace', 'José Ñúñez', "Tom O'Neill", '李雷', 'Priya Shah', ''];

describe('the morning edition, end to end on real Redis and SMTP', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  const clock = new FixedClock(morning);
  const readers: Array<{ id: string; email: string; name?: string }> = [];

  beforeAll(async () => {
    sink = await startSmtpSink({
      // One reader's server refuses for good; another's is busy on the first try only.
      refuse: (address, attempt) =>
        address === 'reader-13@example.com' ? { code: 550, message: '5.1.1 <reader-13@example.com>: user unknown' }
          : address === 'reader-21@example.com' && attempt === 1 ? { code: 451, message: '4.3.0 try again later' }
            : undefined,
    });
    const feed = writeTestFeed(['2026-11-24', '2026-11-25', '2026-11-26']);
    const config = testConfig(uniquePrefix('e2e'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(feed), delivery: { concurrency: 20, smtpMaxConnections: 3, attempts: 3, backoffMs: 50, fanoutPageSize: 16, lockDurationMs: 30_000, stalledIntervalMs: 30_000 } });
    runtime = testRuntime(config, { clock });
    for (let i = 1; i <= 52; i++) {
      const name = names[i % names.length] || undefined;
      const { subscriber } = await runtime.subscribers.add({ email: `Reader-${i}@Example.com`, name, newsletters: ['national'], confirmed: i <= 50, source: 'test' });
      readers.push({ id: subscriber.id, email: subscriber.email, name });
    }
    await runtime.subscribers.suppress('reader-7@example.com', { reason: 'hard bounce', source: 'test' });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('sends exactly one correct message to each confirmed, unsuppressed reader', async () => {
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    const edition = result.edition;
    expect(edition.state).toBe('done');
    expect(result.broughtWorkers).toBe(true);
    // 50 confirmed members (2 pending are not members), 1 suppressed, 1 refused for good.
    expect(edition.total).toBe(50);
    expect(edition.skipped).toBe(1);
    expect(edition.failed).toBe(1);
    expect(edition.sent).toBe(48);
    expect(edition.articleIds.length).toBeGreaterThan(3);
    expect(edition.articleIds.length).toBeLessThanOrEqual(12);

    const recipients = sink.messages.flatMap((m) => m.recipients);
    expect(recipients).toHaveLength(48);
    expect(new Set(recipients).size).toBe(48);
    expect(recipients).not.toContain('reader-7@example.com');
    expect(recipients).not.toContain('reader-13@example.com');
    expect(recipients).not.toContain('reader-51@example.com');
    expect(recipients).toContain('reader-21@example.com');
    expect(sink.refusals.get('reader-21@example.com')).toBe(1);

    const failedEntry = await runtime.editions.ledgerEntry(edition.id, readers[12].id);
    expect(failedEntry).toMatchObject({ kind: 'failed' });
    expect(failedEntry?.detail).toContain('550');
    expect(failedEntry?.detail).toContain('5.1.1');

    const content = await runtime.editions.content(edition.id);
    for (const message of sink.messages) {
      const mail = await sink.parse(message);
      const reader = readers.find((r) => r.email === message.recipients[0]);
      expect(reader).toBeDefined();
      expect(mail.subject).toBe(edition.subject);
      expect(mail.subject).toContain('National');
      expect(mail.from?.text).toContain('national@daybreak.example');
      expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0].address : '').toBe(reader?.email);
      if (reader?.name) expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0].name : '').toBe(reader.name);
      expect(mail.messageId).toBeDefined();
      expect(parseMessageId(mail.messageId as string)).toEqual({ editionId: edition.id, subscriberId: reader?.id });
      const header = (key: string) => mail.headerLines.find((h) => h.key === key)?.line.replace(/\r?\n\s+/g, ' ') ?? '';
      expect(header('list-id')).toContain('<national.daybreak.example>');
      expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
      const listUnsubscribe = header('list-unsubscribe');
      const unsubscribeUrl = /<(https?:\/\/[^>]+)>/.exec(listUnsubscribe)?.[1] as string;
      // No bounce server reads a mailto here, so none is listed (see test/bounces/mailto-unsubscribe).
      expect(listUnsubscribe).not.toContain('mailto:');
      expect(unsubscribeUrl).toMatch(/^http:\/\/daybreak\.test\/unsubscribe\//);
      // The link names the edition it came from (signed, for the report's unsubscribes): the token is the last path part.
      expect(unsubscribeUrl).toMatch(/\?e=national-2026-11-24\.[A-Za-z0-9_-]{22}$/);
      const token = new URL(unsubscribeUrl).pathname.split('/').pop() as string;
      expect(runtime.signer.verify(token, 'unsubscribe')).toMatchObject({ ok: true, claims: { subscriberId: reader?.id } });
      // Both parts carry the stories and the reader's own links.
      expect(mail.html).toContain(unsubscribeUrl.replace(/&/g, '&amp;'));
      expect(mail.text).toContain(unsubscribeUrl);
      for (const article of edition.articles.slice(0, 3)) {
        // Story links go through the edition's signed click redirect (docs/editorial.md), the same in every copy.
        const link = runtime.signer.editionLinks.clickUrl(runtime.config.publicUrl, edition.id, article.id);
        expect(mail.html).toContain(`href="${link}"`);
        expect(mail.text).toContain(link);
      }
      const first = reader?.name?.split(' ')[0];
      if (first) expect(mail.text).toContain(first);
      expect(mail.html).not.toContain('%%slot:');
      expect(mail.text).not.toContain('%%slot:');
    }
    expect(content?.html).toContain('%%slot:unsubscribeUrl%%');
  });

  test('running the same day again sends nothing new and says so', async () => {
    const before = sink.messages.length;
    const again = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(again.alreadyFinished).toBe(true);
    expect(sink.messages.length).toBe(before);
  });

  test('a repeated fan-out never doubles a send (the ledger guards after jobs are gone)', async () => {
    const id = 'national-2026-11-24';
    const before = sink.messages.length;
    // Pretend the fan-out never finished: all send jobs were removed on completion, so every one is added again.
    await runtime.redis.hset(runtime.keys.edition(id), { fanoutDone: 0, fanoutCursor: 0, state: 'sending' });
    const workers = createSendWorkers(runtime, { newsletters: ['national'] });
    try {
      const result = await fanOut(runtime, id);
      expect(result.queued).toBe(0);
      const edition = await waitForEdition(runtime, id, { timeoutMs: 10_000 });
      expect(edition.state).toBe('done');
      expect(edition.sent).toBe(48);
      expect(sink.messages.length).toBe(before);
      // Even a send job added by hand for a reader already sent is refused by the ledger.
      await runtime.queues.send('national').add('send', { e: id, s: readers[0].id }, { jobId: 'manual-dup' });
      await new Promise((r) => setTimeout(r, 500));
      expect(sink.messages.length).toBe(before);
    } finally {
      await Promise.all(workers.map((w: Worker) => w.close()));
    }
  });

  test("the email's one-click unsubscribe link works and the next edition skips that reader", async () => {
    const message = sink.messages.find((m) => m.recipients[0] === 'reader-2@example.com');
    const raw = message?.raw.toString('latin1') ?? '';
    const url = /List-Unsubscribe:\s*<([^>]+)>/i.exec(raw.replace(/\r\n\s+/g, ' '))?.[1] as string;
    const app = await buildWebServer(runtime);
    const response = await app.inject({ method: 'POST', url: new URL(url).pathname, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
    await app.close();
    expect(response.statusCode).toBe(200);
    const reader = await runtime.subscribers.findByEmail('reader-2@example.com');
    expect(reader?.status).toBe('unsubscribed');

    clock.set('2026-11-25T06:00:00Z');
    const before = sink.messages.length;
    const next = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-25' });
    const sentTo = sink.messages.slice(before).flatMap((m) => m.recipients);
    expect(sentTo).not.toContain('reader-2@example.com');
    // Nothing already sent on the 24th is picked again.
    const yesterday = await runtime.editions.get('national-2026-11-24');
    for (const id of next.edition.articleIds) expect(yesterday?.articleIds).not.toContain(id);
  });

  test('suppression and unsubscribe win late: checked again right before SMTP', async () => {
    clock.set('2026-11-26T06:00:00Z');
    const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-26', trigger: 'manual' });
    // Build and fan out with no send workers running: the jobs wait in the queue.
    const builder = createEditionWorker(runtime);
    try {
      for (let i = 0; i < 100; i++) {
        const e = await runtime.editions.get(edition.id);
        if (e?.fanoutDone) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await builder.close();
    }
    // 06:01: one reader unsubscribes, another's address is suppressed, after their jobs were queued.
    const late = await runtime.subscribers.findByEmail('reader-30@example.com');
    await runtime.subscribers.unsubscribe(late!.id);
    await runtime.subscribers.suppress('reader-31@example.com', { reason: 'complaint', source: 'test' });
    const before = sink.messages.length;
    const senders = createSendWorkers(runtime, { newsletters: ['national'] });
    try {
      const done = await waitForEdition(runtime, edition.id, { timeoutMs: 20_000 });
      expect(done.state).toBe('done');
      const sentTo = sink.messages.slice(before).flatMap((m) => m.recipients);
      expect(sentTo).not.toContain('reader-30@example.com');
      expect(sentTo).not.toContain('reader-31@example.com');
      expect((await runtime.editions.ledgerEntry(edition.id, late!.id))?.detail).toContain('unsubscribed');
    } finally {
      await Promise.all(senders.map((w) => w.close()));
    }
  });
});
