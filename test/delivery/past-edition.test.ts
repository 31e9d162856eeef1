import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FixedClock } from '../../src/core/clock';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/delivery/runtime';
import { editionSlot } from '../../src/delivery/schedule';
import { EditionScheduler } from '../../src/delivery/scheduler';
import { waitForEdition } from '../../src/ops/watch';
import { createEditionWorker } from '../../workers/edition.worker';
import { createSendWorkers } from '../../workers/send.worker';
import { newslettersWithFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

/** An RSS file with the given stories (id -> published time). */
function feedWith(stories: Record<string, string>): string {
  const items = Object.entries(stories).map(([id, at]) => `<item><title>${id}</title><link>https://news.example/${id}</link><guid isPermaLink="false">${id}</guid><pubDate>${new Date(at).toUTCString()}</pubDate><category>Finance</category><description>${id}</description></item>`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-past-')), 'feed.xml');
  fs.writeFileSync(file, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title><link>https://news.example/</link><description>t</description>${items.join('')}</channel></rss>`);
  return file;
}

describe("a past day's edition holds what that morning would have had", () => {
  let runtime: Runtime;
  // Monday 30 November 2026, 04:16 in London: before Monday's 06:00 slot, as in the report.
  const clock = new FixedClock('2026-11-30T04:16:00Z');

  beforeAll(async () => {
    const feed = feedWith({
      'friday-morning': '2026-11-27T05:00:00Z',
      'friday-evening': '2026-11-27T18:00:00Z',
      'saturday-early': '2026-11-28T05:30:00Z',
      'saturday-late': '2026-11-28T06:30:00Z',
      'monday-early': '2026-11-30T04:00:00Z',
    });
    runtime = testRuntime(testConfig(uniquePrefix('past-edition'), { newsletters: newslettersWithFeed(feed) }), { clock });
    await runtime.subscribers.add({ email: 'reader@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
  });
  afterAll(async () => {
    await closeRuntime(runtime);
  });

  const titles = async (editionId: string) => ((await runtime.editions.get(editionId))?.articles ?? []).map((a) => a.title).sort();

  test("a day the cron does not run gets the cron's time of day as its slot, in the newsletter's zone (DST included)", () => {
    expect(editionSlot('0 6 * * 1-5', 'Europe/London', '2026-11-28')).toEqual(new Date('2026-11-28T06:00:00Z'));
    expect(editionSlot('0 6 * * 1-5', 'Europe/London', '2026-07-18')).toEqual(new Date('2026-07-18T05:00:00Z'));
    expect(editionSlot('0 6 * * 1-5', 'Europe/London', '2026-11-27')).toEqual(new Date('2026-11-27T06:00:00Z'));
  });

  test("run-edition for a past weekend day cuts off at that day's slot, and the next scheduled edition still has its news", async () => {
    const saturday = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-28' });
    expect(saturday.edition.state).toBe('done');
    expect(saturday.edition.cutoff).toEqual(new Date('2026-11-28T06:00:00Z'));
    expect(await titles('national-2026-11-28')).toEqual(['friday-evening', 'saturday-early']);

    // Monday's 06:00 tick: what was published after Saturday's slot is Monday's news, not lost.
    clock.set('2026-11-30T06:00:00Z');
    await new EditionScheduler(runtime).trigger('national');
    const workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'] })];
    try {
      const monday = await waitForEdition(runtime, 'national-2026-11-30', { timeoutMs: 20_000 });
      expect(monday.state).toBe('done');
      expect(await titles('national-2026-11-30')).toEqual(['monday-early', 'saturday-late']);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  test('a past weekday run later cuts off at its own 06:00, whatever the time now', async () => {
    clock.set('2026-11-30T15:00:00Z');
    const friday = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-27' });
    expect(friday.edition.cutoff).toEqual(new Date('2026-11-27T06:00:00Z'));
    expect(await titles('national-2026-11-27')).toEqual(['friday-morning']);
  });
});
