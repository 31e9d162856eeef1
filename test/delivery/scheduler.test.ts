import { FixedClock } from '../../src/core/clock';
import { editionIdFor } from '../../src/delivery/edition';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/delivery/runtime';
import { EditionScheduler } from '../../src/delivery/scheduler';
import { createEditionWorker } from '../../workers/edition.worker';
import { waitForEdition } from '../../src/ops/watch';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

describe('scheduler', () => {
  let a: Runtime;
  let b: Runtime;
  const clock = new FixedClock('2026-11-23T06:00:00Z'); // Monday 06:00 in London

  beforeAll(() => {
    const config = testConfig(uniquePrefix('scheduler'), { newsletters: newslettersWithFeed(writeTestFeed(['2026-11-23', '2026-11-24', '2026-11-25'])) });
    // Two scheduler processes: separate runtimes, separate connections, same Redis.
    a = testRuntime(config, { clock });
    b = testRuntime(config, { clock });
  });

  afterAll(async () => {
    await closeRuntime(a);
    await b.close();
    b.redis.disconnect();
  });

  test('two schedulers firing at once build exactly one edition for the day', async () => {
    const first = new EditionScheduler(a);
    const second = new EditionScheduler(b);
    const results = await Promise.all([first.trigger('national'), second.trigger('national'), first.trigger('national'), second.trigger('national')]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.edition.id))).toEqual(new Set(['national-2026-11-23']));
    const counts = await a.queues.editions.getJobCounts('waiting', 'active', 'delayed', 'completed');
    expect(counts.waiting + counts.active + counts.delayed).toBe(1);
    const editions = await a.editions.list('national', 10);
    expect(editions.map((e) => e.id)).toEqual(['national-2026-11-23']);
    expect(editions[0]).toMatchObject({ trigger: 'schedule', scheduledFor: new Date('2026-11-23T06:00:00Z') });
  });

  test("the schedule's slot follows the newsletter's time zone through daylight saving", async () => {
    const { scheduledSlot } = await import('../../src/delivery/schedule');
    expect(scheduledSlot('0 6 * * 1-5', 'Europe/London', '2026-07-14')).toEqual(new Date('2026-07-14T05:00:00Z'));
    expect(scheduledSlot('0 6 * * 1-5', 'Europe/London', '2026-11-24')).toEqual(new Date('2026-11-24T06:00:00Z'));
    expect(scheduledSlot('0 6 * * 1-5', 'Europe/London', '2026-11-28')).toBeUndefined();
    expect(scheduledSlot('30 7 * * *', 'America/New_York', '2026-11-24')).toEqual(new Date('2026-11-24T12:30:00Z'));
  });

  test('an edition that could not start within its send window is held, and sent only when ops force it', async () => {
    // The scheduler came back at 10:30 after an outage: the 06:00 slot passed 4.5 h ago.
    clock.set('2026-11-24T10:30:00Z');
    const scheduler = new EditionScheduler(a);
    const [caught] = await scheduler.catchUp();
    expect(caught?.edition.id).toBe('national-2026-11-24');
    const worker = createEditionWorker(a);
    try {
      const held = await waitForEdition(a, 'national-2026-11-24', { timeoutMs: 10_000 });
      expect(held.state).toBe('held');
      expect(held.reason).toMatch(/not started within 3 h/);
      // A later tick does not release it either.
      await scheduler.trigger('national');
      expect((await a.editions.get('national-2026-11-24'))?.state).toBe('held');
    } finally {
      await worker.close();
    }
    await a.subscribers.add({ email: 'ops-check@example.com', newsletters: ['national'], confirmed: true });
    const forced = await runEditionNow(a, { newsletterId: 'national', localDate: '2026-11-24', force: true });
    expect(forced.edition.state).toBe('done');
    expect(forced.edition.sent).toBe(1);
    expect(forced.edition.forced).toBe(true);
  });

  test('a day with no new articles is recorded as skipped and sends nothing', async () => {
    clock.set('2026-11-25T06:00:00Z');
    const wednesday = await runEditionNow(a, { newsletterId: 'national', localDate: '2026-11-25' });
    expect(wednesday.edition.state).toBe('done');
    clock.set('2026-11-26T06:00:00Z'); // the feed has nothing after Wednesday's stories
    const result = await runEditionNow(a, { newsletterId: 'national', localDate: '2026-11-26' });
    expect(result.edition.state).toBe('skipped');
    expect(result.edition.reason).toMatch(/no new articles/);
    expect(result.edition.total).toBe(0);
    expect(editionIdFor('national', '2026-11-26')).toBe(result.edition.id);
  });
});
