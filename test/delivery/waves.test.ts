import path from 'node:path';
import type { Worker } from 'bullmq';
import { FixedClock } from '../../src/core/clock';
import { enqueueEdition } from '../../src/delivery/enqueue';
import type { Edition } from '../../src/delivery/edition';
import { EditionScheduler } from '../../src/delivery/scheduler';
import { planWaves } from '../../src/delivery/waves';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import { runEditionWithProgress } from '../../src/cli/commands/run-edition';
import { editionStatus } from '../../src/ops/status';
import { waitForEdition } from '../../src/ops/watch';
import { importCsv } from '../../src/subscribers/csv';
import type { Runtime } from '../../src/app/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { until } from '../ops/fixture';

const zones = { london: 'Europe/London', newYork: 'America/New_York', singapore: 'Asia/Singapore' };

describe('waves: 06:00 in each reader\'s own zone', () => {
  test('the waves of a day are at the schedule\'s time in each zone, through both daylight-saving changes', () => {
    const at = (localDate: string) => Object.fromEntries(planWaves('0 6 * * 1-5', zones.london, localDate, [zones.newYork, zones.singapore]).map((w) => [w.zone, w.due.toISOString()]));
    // Friday 6 March 2026: everyone on standard time.
    expect(at('2026-03-06')).toEqual({ [zones.singapore]: '2026-03-05T22:00:00.000Z', [zones.london]: '2026-03-06T06:00:00.000Z', [zones.newYork]: '2026-03-06T11:00:00.000Z' });
    // Tuesday 10 March: New York moved to summer time on Sunday the 8th, London not yet.
    expect(at('2026-03-10')).toEqual({ [zones.singapore]: '2026-03-09T22:00:00.000Z', [zones.london]: '2026-03-10T06:00:00.000Z', [zones.newYork]: '2026-03-10T10:00:00.000Z' });
    // Tuesday 31 March: London too (Sunday the 29th). Singapore keeps no daylight saving.
    expect(at('2026-03-31')).toEqual({ [zones.singapore]: '2026-03-30T22:00:00.000Z', [zones.london]: '2026-03-31T05:00:00.000Z', [zones.newYork]: '2026-03-31T10:00:00.000Z' });
    // Earliest first: the first wave is the edition's slot (and its articles' cut-off).
    expect(planWaves('0 6 * * 1-5', zones.london, '2026-03-10', [zones.newYork, zones.singapore]).map((w) => w.zone)).toEqual([zones.singapore, zones.london, zones.newYork]);
  });

  describe('on a fake clock, with real Redis, workers and an SMTP sink', () => {
    let sink: SmtpSink;
    let runtime: Runtime;
    let workers: Worker[];
    const clock = new FixedClock('2026-03-05T12:00:00Z');
    let scheduler: EditionScheduler;
    /** Address -> the fake clock's time when the sink took its copy (the clock only moves between ticks). */
    const receivedAt = new Map<string, string[]>();
    const readers: Record<string, string[]> = { [zones.london]: [], [zones.newYork]: [], [zones.singapore]: [] };

    beforeAll(async () => {
      sink = await startSmtpSink();
      const mornings = ['2026-03-06', '2026-03-10', '2026-03-12', '2026-03-13', '2026-03-31'];
      const config = testConfig(uniquePrefix('waves'), {
        smtpUrl: sink.url,
        newsletters: newslettersWithFeed(writeTestFeed(mornings), { delivery: 'reader-zone' }),
        delivery: { concurrency: 10, smtpMaxConnections: 3, attempts: 3, backoffMs: 50, fanoutPageSize: 10, lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      });
      runtime = testRuntime(config, { clock });
      const add = async (email: string, timezone: string | undefined, bucket: string) => {
        await runtime.subscribers.add({ email, timezone, newsletters: ['national'], confirmed: true, source: 'test' });
        readers[bucket]?.push(email);
      };
      await add('ldn-1@example.com', zones.london, zones.london);
      await add('no-zone@example.com', undefined, zones.london); // the newsletter's zone
      await add('nyc-1@example.com', zones.newYork, zones.newYork);
      await add('sg-1@example.com', zones.singapore, zones.singapore);
      await add('sg-2@example.com', zones.singapore, zones.singapore);
      // Moved from Singapore to New York on the preferences page.
      await add('moved@example.com', zones.singapore, zones.newYork);
      const moved = await runtime.subscribers.findByEmail('moved@example.com');
      await runtime.subscribers.updatePreferences(moved!.id, { timezone: zones.newYork, newsletters: ['national'], now: clock.now(), context: { form: 'preferences', consentText: 'test' } });
      // Imported from a CSV with a timezone column (one row's zone is no zone at all: refused).
      const report = await importCsv({ file: path.join(__dirname, '..', 'fixtures', 'subscribers', 'zones.csv'), store: runtime.subscribers, knownNewsletters: ['national'], defaultNewsletters: ['national'], confirmed: true, now: () => clock.now() });
      expect(report).toMatchObject({ created: 2, invalid: 1 });
      expect(report.issues[0]?.reason).toMatch(/invalid timezone "Mars\/Olympus_Mons"/);
      readers[zones.newYork]?.push('imported-ny@example.com');
      readers[zones.london]?.push('imported-none@example.com');
      expect((await runtime.subscribers.findByEmail('imported-ny@example.com'))?.timezone).toBe(zones.newYork);

      const onArrive = () => {
        for (const m of sink.messages.slice([...receivedAt.values()].reduce((n, l) => n + l.length, 0))) {
          for (const r of m.recipients) receivedAt.set(r, [...(receivedAt.get(r) ?? []), clock.now().toISOString()]);
        }
      };
      const original = sink.waitForCount.bind(sink);
      sink.waitForCount = async (count, timeoutMs) => {
        await original(count, timeoutMs);
        onArrive();
      };
      workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'] })];
      scheduler = new EditionScheduler(runtime);
    });

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.close()));
      await closeRuntime(runtime);
      await sink.close();
    });

    const everyone = () => Object.values(readers).flat();
    const delivered = () => sink.messages.length;

    /** Moves the clock to `at` and runs the scheduler's minute; waits for `expect` more copies. */
    async function minute(at: string, expectCopies: number): Promise<void> {
      const before = delivered();
      clock.set(at);
      await scheduler.tick();
      if (expectCopies > 0) await sink.waitForCount(before + expectCopies, 20_000);
      // Whatever a worker was handed has been sent by now, or nothing was handed: no copy is still on its way.
      expect(delivered()).toBe(before + expectCopies);
    }

    async function day(localDate: string, due: Record<string, string>): Promise<void> {
      const id = `national-${localDate}`;
      const minuteBefore = (iso: string) => new Date(Date.parse(iso) - 60_000).toISOString();
      for (const zone of [zones.singapore, zones.london, zones.newYork]) {
        const at = due[zone] as string;
        await minute(minuteBefore(at), 0);
        await minute(at, readers[zone]?.length ?? 0);
        for (const r of readers[zone] ?? []) expect(receivedAt.get(r)?.at(-1)).toBe(new Date(at).toISOString());
      }
      const edition = await waitForEdition(runtime, id, { timeoutMs: 20_000 });
      expect(edition).toMatchObject({ state: 'done', sent: everyone().length, failed: 0, renders: 1 });
      // One edition, built once, at the first wave: its slot and its articles' cut-off are Singapore's.
      expect(edition.scheduledFor.toISOString()).toBe(new Date(due[zones.singapore] as string).toISOString());
      expect(edition.cutoff?.toISOString()).toBe(new Date(due[zones.singapore] as string).toISOString());
      const status = await editionStatus(runtime, id);
      expect(status.waves?.map((w) => [w.zone, w.state, w.queued, w.sent, w.pending])).toEqual([
        [zones.singapore, 'out', 2, 2, 0],
        [zones.london, 'out', 3, 3, 0],
        [zones.newYork, 'out', 3, 3, 0],
      ]);
    }

    test('London, New York and Singapore readers each get the edition at 06:00 their time, across the DST changes', async () => {
      await day('2026-03-06', { [zones.singapore]: '2026-03-05T22:00:00Z', [zones.london]: '2026-03-06T06:00:00Z', [zones.newYork]: '2026-03-06T11:00:00Z' });
      await day('2026-03-10', { [zones.singapore]: '2026-03-09T22:00:00Z', [zones.london]: '2026-03-10T06:00:00Z', [zones.newYork]: '2026-03-10T10:00:00Z' });
      await day('2026-03-31', { [zones.singapore]: '2026-03-30T22:00:00Z', [zones.london]: '2026-03-31T05:00:00Z', [zones.newYork]: '2026-03-31T10:00:00Z' });
      // Everyone got exactly one copy a day: three in all.
      for (const r of everyone()) expect(receivedAt.get(r)).toHaveLength(3);
    });

    test('a wave missed by an outage is held, not sent late; the later waves go on time; ops can force it', async () => {
      // Thursday 12 March: the scheduler is down from before Singapore's 06:00 (22:00 UTC) until 02:30
      // UTC, past Singapore's three-hour window; London's and New York's are still ahead.
      await minute('2026-03-12T02:30:00Z', 0);
      const id = 'national-2026-03-12';
      const waves = async () => Object.fromEntries(((await editionStatus(runtime, id)).waves ?? []).map((w) => [w.zone, w.state]));
      await until(async () => (await waves())[zones.singapore] === 'held', 20_000, 'the Singapore wave held');
      expect(await waves()).toEqual({ [zones.singapore]: 'held', [zones.london]: 'waiting', [zones.newYork]: 'waiting' });
      await minute('2026-03-12T06:00:00Z', readers[zones.london]?.length ?? 0);
      await minute('2026-03-12T10:00:00Z', readers[zones.newYork]?.length ?? 0);
      const done = await waitForEdition(runtime, id, { timeoutMs: 20_000 });
      expect(done).toMatchObject({ state: 'done', sent: everyone().length - 2 });
      const status = await editionStatus(runtime, id);
      expect(status.notes.join(' ')).toMatch(/1 wave\(s\) held .*Asia\/Singapore.*run-edition national --date 2026-03-12 --force/);
      expect(status.history.some((h) => h.event === 'wave-held')).toBe(true);

      // Ops decide it should still go: forced, the held wave goes now and the edition finishes again.
      const before = delivered();
      await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-03-12', trigger: 'manual', force: true });
      await sink.waitForCount(before + 2, 20_000);
      const forced = await waitForEdition(runtime, id, { timeoutMs: 20_000 });
      expect(forced).toMatchObject({ state: 'done', sent: everyone().length });
      expect((await editionStatus(runtime, id)).waves?.find((w) => w.zone === zones.singapore)).toMatchObject({ state: 'out', forced: true, sent: 2 });
    });

    test('run-edition at London\'s 06:00 sends the waves whose time has come, and leaves New York\'s for its time', async () => {
      clock.set('2026-03-13T06:00:00Z');
      const before = delivered();
      // Through the command's own code, to read what it tells ops.
      const printed: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        printed.push(String(chunk));
        return true;
      });
      let edition: Edition;
      try {
        edition = await runEditionWithProgress(runtime, 'national', '2026-03-13', { quiet: true });
      } finally {
        write.mockRestore();
      }
      const result = { edition };
      // Singapore's (22:00 UTC yesterday) and London's went; a manual run holds nothing for being late.
      expect(result.edition).toMatchObject({ state: 'sending', sent: 5 });
      // New York is on summer time since 8 March: its 06:00 is 10:00 UTC.
      expect(printed.join('')).toContain('Later waves (1): America/New_York at Fri 06:00 there (10:00 UTC). A running `daybreak worker` (or `daybreak start`) sends each at its time.');
      expect(delivered()).toBe(before + 5);
      const waves = (await editionStatus(runtime, result.edition.id)).waves ?? [];
      expect(waves.map((w) => [w.zone, w.state])).toEqual([[zones.singapore, 'out'], [zones.london, 'out'], [zones.newYork, 'waiting']]);
      await minute('2026-03-13T10:00:00Z', readers[zones.newYork]?.length ?? 0);
      expect(await waitForEdition(runtime, result.edition.id, { timeoutMs: 20_000 })).toMatchObject({ state: 'done', sent: everyone().length });
    });
  });
});
