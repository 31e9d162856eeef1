import { cancelEdition, EditionControlError, pauseEdition, resumeEdition } from '../../src/ops/control';
import { pendingCount, type Edition } from '../../src/delivery/edition';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { runEditionNow } from '../../src/ops/run-now';
import { waitForEdition } from '../../src/ops/watch';
import { closeRuntime, writeConfigFile } from '../helpers/runtime';
import { closeWorkers, copiesByRecipient, opsFixture, runCli, startWorkers, until, type OpsFixture } from './fixture';

const readers = 150;

async function claimedCount(editionId: string): Promise<number> {
  let n = 0;
  for await (const entry of f.runtime.editions.scanLedger(editionId)) if (entry.kind === 'claimed') n += 1;
  return n;
}

let f: OpsFixture;

describe('pause, resume and cancel, across the workers', () => {

  beforeAll(async () => {
    // A slow server (40 ms per message, 2 connections) so an edition takes a few seconds.
    f = await opsFixture('control', { readers, sink: { dataDelayMs: 40 }, delivery: { smtpMaxConnections: 2 } });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('pause stops sending within seconds and keeps the queue; resume sends the rest, nobody twice', async () => {
    const workers = startWorkers(f.runtime, 4);
    try {
      const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' });
      await f.sink.waitForCount(20, 30_000);
      const paused = await pauseEdition(f.runtime, edition.id, { by: 'night-editor', reason: 'typo in the lead' });
      expect(paused).toMatchObject({ previous: 'sending', state: 'paused', unchanged: false });
      expect(await f.runtime.queues.send('national').isPaused()).toBe(true);
      // Messages already with the SMTP server finish (no claim left open, no job active); then
      // nothing more for longer than a paused job's look-again cycle.
      await until(async () => (await claimedCount(edition.id)) === 0 && ((await f.runtime.queues.send('national').getJobCounts('active')).active ?? 0) === 0, 30_000, 'in-flight sends settled');
      const atPause = f.sink.messages.length;
      const sentAtPause = (await f.runtime.editions.get(edition.id))?.sent;
      await new Promise((r) => setTimeout(r, 3000));
      expect(f.sink.messages.length).toBe(atPause);
      const during = await f.runtime.editions.get(edition.id);
      expect(during).toMatchObject({ state: 'paused', sent: sentAtPause });
      expect(atPause).toBeLessThan(readers);
      // The queue is kept: every unsent reader still has a waiting job.
      const counts = await f.runtime.queues.send('national').getJobCounts('waiting', 'delayed', 'active');
      expect((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0)).toBeGreaterThanOrEqual(readers - atPause);
      expect(await pauseEdition(f.runtime, edition.id)).toMatchObject({ unchanged: true });

      const resumed = await resumeEdition(f.runtime, edition.id, { by: 'night-editor' });
      expect(resumed).toMatchObject({ previous: 'paused', state: 'sending', unchanged: false });
      const done = await waitForEdition(f.runtime, edition.id, { timeoutMs: 30_000 });
      expect(done).toMatchObject({ state: 'done', sent: readers, total: readers });
      const copies = copiesByRecipient(f.sink);
      expect(copies.size).toBe(readers);
      expect([...copies.values()].every((n) => n === 1)).toBe(true);
      const history = await f.runtime.editions.history(edition.id);
      expect(history.filter((h) => h.event === 'paused' || h.event === 'resumed').map((h) => [h.event, h.by])).toEqual([['paused', 'night-editor'], ['resumed', 'night-editor']]);
      expect(history.find((h) => h.event === 'paused')?.reason).toBe('typo in the lead');
      expect(await f.runtime.queues.send('national').isPaused()).toBe(false);
    } finally {
      await closeWorkers(workers);
    }
  });

  test('an edition whose last messages settled while it was paused is done on resume', async () => {
    // Paused at the very end: every message settled, but only a sending edition becomes done by itself.
    await f.runtime.redis.hset(f.runtime.keys.edition('national-2026-11-24'), { state: 'paused' });
    await f.runtime.queues.send('national').pause();
    const result = await resumeEdition(f.runtime, 'national-2026-11-24', { by: 'test' });
    expect(result).toMatchObject({ state: 'done', finished: true });
    expect((await f.runtime.editions.get('national-2026-11-24'))?.state).toBe('done');
    expect(await f.runtime.queues.send('national').isPaused()).toBe(false);
  });

  test('cancel: queued jobs leave the queue at once, nothing more is sent, the counts it reports match the final ledger, and it cannot be undone', async () => {
    f.clock.set('2026-11-25T06:00:00Z');
    const workers = startWorkers(f.runtime, 4);
    try {
      const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-25', trigger: 'manual' });
      const before = f.sink.messages.length;
      await f.sink.waitForCount(before + 15, 30_000);
      // Freeze the server's replies: whatever is claimed now is "with the mail server" during the cancel.
      f.sink.hold();
      await until(async () => (await claimedCount(edition.id)) > 0, 30_000, 'a copy in flight');
      const result = await cancelEdition(f.runtime, edition.id, { by: 'night-editor', reason: 'wrong date' });
      expect(result).toMatchObject({ previous: 'sending', state: 'cancelled' });
      expect(result.removedJobs).toBeGreaterThan(0);
      expect(result.inFlight).toBeGreaterThan(0);
      // Nothing of this edition waits in the queue any more: `status` does not list jobs that will never run.
      const queued = await f.runtime.queues.send('national').getJobCounts('waiting', 'delayed', 'prioritized');
      expect((queued.waiting ?? 0) + (queued.delayed ?? 0) + (queued.prioritized ?? 0)).toBe(0);
      const atCancel = (await f.runtime.editions.get(edition.id)) as Edition;
      const willNotBeSent = pendingCount(atCancel) - (result.inFlight ?? 0);

      f.sink.release();
      await until(async () => (await claimedCount(edition.id)) === 0, 30_000, 'in-flight copies recorded');
      await until(async () => {
        const c = await f.runtime.queues.send('national').getJobCounts('active');
        return (c.active ?? 0) === 0;
      }, 30_000, 'active jobs finished');
      const cancelled = (await f.runtime.editions.get(edition.id)) as Edition;
      // What `cancel` said would not be sent is exactly what the ledger ends with.
      expect(pendingCount(cancelled)).toBe(willNotBeSent);
      expect(cancelled.sent).toBe(f.sink.messages.length - before);
      expect(cancelled.state).toBe('cancelled');
      expect(cancelled.reason).toBe('cancelled by night-editor: wrong date');
      expect(cancelled.finishedAt).toBeDefined();
      expect((await f.runtime.editions.history(edition.id)).find((h) => h.event === 'cancelled')).toMatchObject({ by: 'night-editor', from: 'sending' });

      await expect(resumeEdition(f.runtime, edition.id)).rejects.toThrow(/cancelled; only a paused edition can be resumed/);
      await expect(pauseEdition(f.runtime, edition.id)).rejects.toThrow(EditionControlError);
      expect(await cancelEdition(f.runtime, edition.id)).toMatchObject({ unchanged: true });
      // A manual run of the same day does not bring it back.
      const sentAfter = f.sink.messages.length;
      const rerun = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-25' });
      expect(rerun.alreadyFinished).toBe(true);
      expect(f.sink.messages.length).toBe(sentAfter);
    } finally {
      f.sink.release();
      await closeWorkers(workers);
    }
  });

  test('cancelling a paused edition lets the other editions of its newsletter send again', async () => {
    f.clock.set('2026-11-23T06:00:00Z');
    const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-23', trigger: 'manual' });
    await f.runtime.queues.editions.remove(`build-${edition.id}`);
    await f.runtime.redis.hset(f.runtime.keys.edition(edition.id), { state: 'sending' });
    await pauseEdition(f.runtime, edition.id, { by: 'test' });
    expect(await f.runtime.queues.send('national').isPaused()).toBe(true);
    await cancelEdition(f.runtime, edition.id, { by: 'test' });
    expect(await f.runtime.queues.send('national').isPaused()).toBe(false);
  });

  test('through the binary: clear messages, --yes required to cancel from a script, bad ids exit non-zero', async () => {
    const env = { DAYBREAK_CONFIG: writeConfigFile(f.config) };
    const done = await runCli(['pause', 'national-2026-11-24'], env);
    expect(done.code).toBe(1);
    expect(done.stderr).toContain('Edition national-2026-11-24 is done; only a sending edition can be paused.');
    const missing = await runCli(['resume', 'national-2031-01-01'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No edition "national-2031-01-01"\. Recent editions: .*national-2026-11-25/);
    const noYes = await runCli(['cancel', 'national-2026-11-24'], env);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('add --yes');
    const help = await runCli(['pause', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: daybreak pause [options] <edition>');
    const down = await runCli(['status', 'national-2026-11-24'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('Cannot reach Redis at redis://127.0.0.1:1');
  });
});
