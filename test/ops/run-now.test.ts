import { runEditionNow } from '../../src/ops/run-now';
import { closeRuntime } from '../helpers/runtime';
import { opsFixture, type OpsFixture } from './fixture';

describe('run-edition with its own workers', () => {
  let f: OpsFixture;
  const refused = 'reader-3@example.com';

  beforeAll(async () => {
    f = await opsFixture('run-now', {
      readers: 6,
      sink: { refuse: (address) => (address === refused ? { code: 550, message: '5.1.1 no such user' } : undefined) },
    });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('the counts it returns include what outcome subscribers record after the settle that finished the edition', async () => {
    // Whatever hears of a failed send runs after its settle, which may be the one that finished the
    // edition: one that takes its time (here a second, then a count on the edition) must be over,
    // and what it counted in the figures, before run-edition reports.
    let heard = false;
    f.runtime.outcomes.subscribe('failed', async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await f.runtime.editions.countUnsubscribe(event.editionId, event.subscriberId);
      heard = true;
    });
    const run = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(run.broughtWorkers).toBe(true);
    expect(heard).toBe(true);
    expect(run.edition).toMatchObject({ state: 'done', total: 6, sent: 5, failed: 1, bounced: 1, unsubscribes: 1 });
  });
});
