import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FixedClock } from '../../src/core/clock';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { runEditionNow } from '../../src/ops/run-now';
import { waitForEdition } from '../../src/ops/watch';
import { createEditionWorker } from '../../workers/edition.worker';
import { createSendWorkers } from '../../workers/send.worker';
import type { Runtime } from '../../src/delivery/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const delivery = { concurrency: 20, smtpMaxConnections: 4, attempts: 3, backoffMs: 50, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000, buildAttempts: 2, buildRetryDelayMs: 50 };

describe('a feed that fails', () => {
  let server: http.Server;
  let sink: SmtpSink;
  let runtime: Runtime;

  beforeAll(async () => {
    // A feed host that answers 503, as a CMS under maintenance does.
    server = http.createServer((_req, res) => { res.statusCode = 503; res.end('maintenance'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed.xml`;
    sink = await startSmtpSink();
    const newsletters = newslettersWithFeed('unused').map((n) => (n.id === 'national' ? { ...n, source: { url } } : n));
    runtime = testRuntime(testConfig(uniquePrefix('feedfail'), { smtpUrl: sink.url, newsletters, delivery }), { clock: new FixedClock('2026-11-24T06:00:00Z') });
    await runtime.subscribers.add({ email: 'reader@example.com', newsletters: ['national'], confirmed: true });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
    await new Promise((r) => server.close(r));
  });

  test('fails the edition with an error naming the source, and sends nothing', async () => {
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition.state).toBe('failed');
    expect(result.edition.reason).toContain('127.0.0.1');
    expect(result.edition.reason).toContain('503');
    expect(result.edition.total).toBe(0);
    expect(await runtime.editions.content(result.edition.id)).toBeUndefined();
    expect(sink.messages).toHaveLength(0);
  });
});

describe("a newsletter's send-rate limit", () => {
  let sink: SmtpSink;
  let runtime: Runtime;

  beforeAll(async () => {
    sink = await startSmtpSink();
    const newsletters = newslettersWithFeed(writeTestFeed(['2026-11-24']), { rateLimit: { perSecond: 10 } });
    runtime = testRuntime(testConfig(uniquePrefix('ratelimit'), { smtpUrl: sink.url, newsletters, delivery }), { clock: new FixedClock('2026-11-24T06:00:00Z') });
    for (let i = 0; i < 30; i++) await runtime.subscribers.add({ email: `r${i}@example.com`, newsletters: ['national'], confirmed: true });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('holds every worker together to the provider quota (10 a second here)', async () => {
    // Two separate send workers, each free to run 20 at once: the limit lives in Redis and binds both.
    const workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { concurrency: 20 }), ...createSendWorkers(runtime, { concurrency: 20 })];
    try {
      const started = Date.now();
      const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' });
      const done = await waitForEdition(runtime, edition.id, { timeoutMs: 30_000 });
      const seconds = (Date.now() - started) / 1000;
      expect(done.sent).toBe(30);
      // 30 messages at 10/s cannot finish in under two full windows.
      expect(seconds).toBeGreaterThanOrEqual(2);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});

describe('a message that cannot be built for one reader', () => {
  let sink: SmtpSink;
  let runtime: Runtime;

  beforeAll(async () => {
    sink = await startSmtpSink();
    runtime = testRuntime(testConfig(uniquePrefix('badvalue'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])), delivery }), { clock: new FixedClock('2026-11-24T06:00:00Z') });
    await runtime.subscribers.add({ email: 'good@example.com', newsletters: ['national'], confirmed: true });
    // An address that slipped into the store without validation (an old import, a hand edit).
    await runtime.subscribers.add({ email: 'broken address@@example.com', newsletters: ['national'], confirmed: true });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('is recorded as failed with the reason, and the edition still finishes', async () => {
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition).toMatchObject({ state: 'done', sent: 1, failed: 1 });
    const id = (await runtime.subscribers.findIdByEmail('broken address@@example.com')) as string;
    expect((await runtime.editions.ledgerEntry(result.edition.id, id))?.detail).toContain('message could not be built');
    expect(sink.messages.flatMap((m) => m.recipients)).toEqual(['good@example.com']);
  });
});
