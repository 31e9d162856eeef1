import { recordProgressSample } from '../../src/delivery/instrument';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { runEditionNow } from '../../src/ops/run-now';
import { editionStatus, resolveEditionRef, type EditionStatus } from '../../src/ops/status';
import { waitForEdition } from '../../src/ops/watch';
import { createSendWorkers } from '../../workers/send.worker';
import { closeRuntime, setEditionFields, writeConfigFile } from '../helpers/runtime';
import { spawn } from 'node:child_process';
import { bin, closeWorkers, editionId, opsFixture, runCli, startWorkers, until, type OpsFixture } from './fixture';

describe('status and editions', () => {
  let f: OpsFixture;
  let env: Record<string, string>;

  beforeAll(async () => {
    f = await opsFixture('status', { readers: 30, sink: { dataDelayMs: 5 } });
    env = { DAYBREAK_CONFIG: writeConfigFile(f.config) };
    await f.runtime.subscribers.suppress('reader-4@example.com', { reason: 'hard bounce', source: 'test' });
    await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('a finished edition: counts, articles, history, no ETA', async () => {
    const s = await editionStatus(f.runtime, editionId);
    expect(s).toMatchObject({ id: editionId, newsletterId: 'national', newsletterName: 'National', localDate: '2026-11-24', state: 'done', final: true, fanoutDone: true });
    expect(s.counts).toEqual({ total: 30, sent: 29, failed: 0, bounced: 0, complaints: 0, skipped: 1, pending: 0 });
    expect(s.articles.length).toBeGreaterThan(3);
    expect(s.subject).toContain('National');
    // The call that settled the last reader wrote 'done' with the final counts, in the same script.
    expect(s.history.map((h) => h.event)).toEqual(['created', 'rendered', 'fanned-out', 'done']);
    expect(s.history[3]).toMatchObject({ event: 'done', sent: 29, failed: 0, skipped: 1 });
    expect(s.etaSeconds).toBeUndefined();
    expect(s.notes).toEqual([]);
  });

  test('a sending edition: rate from recent progress samples, ETA, and a loud note when no worker runs', async () => {
    const id = 'national-2026-11-25';
    await f.runtime.editions.createIfAbsent({ id, newsletterId: 'national', localDate: '2026-11-25', trigger: 'manual', scheduledFor: new Date('2026-11-25T06:00:00Z'), now: new Date('2026-11-25T06:00:00Z') });
    f.clock.set('2026-11-25T06:00:30Z');
    await setEditionFields(f.runtime, id, { state: 'sending', fanoutDone: 1, total: 1000, sent: 100, startedAt: new Date('2026-11-25T06:00:00Z').getTime() });
    await recordProgressSample(f.runtime, id);
    f.clock.set('2026-11-25T06:01:00Z');
    await setEditionFields(f.runtime, id, { sent: 390, failed: 6, skipped: 4 });

    const idle = await editionStatus(f.runtime, id);
    // 300 settled in the 30 s since the sample: 10 a second.
    expect(idle.rate).toEqual({ perSecond: 10, basis: 'recent', windowSeconds: 30 });
    expect(idle.counts.pending).toBe(600);
    expect(idle.durationMs).toBe(60_000);
    expect(idle.etaSeconds).toBeUndefined();
    expect(idle.notes.join('\n')).toContain(`No send workers are connected to the national queue, so nothing is being sent: start \`daybreak worker\`, or run \`daybreak resend ${id} --unsent\``);
    expect(idle.notes.join('\n')).toContain('6 send(s) failed');

    const workers = createSendWorkers(f.runtime, { newsletters: ['national'] });
    try {
      await workers[0]?.waitUntilReady();
      const live = await editionStatus(f.runtime, id);
      expect(live.queue.workers).toBeGreaterThan(0);
      expect(live.etaSeconds).toBe(60);
      expect(live.notes.join('\n')).not.toContain('No send workers');
    } finally {
      await closeWorkers(workers);
    }
    // With no recent sample, the average since the start is used.
    f.clock.set('2026-11-25T06:03:00Z');
    expect((await editionStatus(f.runtime, id)).rate).toEqual({ perSecond: 400 / 180, basis: 'average', windowSeconds: 180 });
    await f.runtime.redis.del(f.runtime.keys.edition(id));
    await f.runtime.redis.zrem(f.runtime.keys.allEditions(), id);
    await f.runtime.redis.zrem(f.runtime.keys.editionsOf('national'), id);
  });

  test('a newsletter id means its newest edition; an unknown id names the recent ones', async () => {
    expect(await resolveEditionRef(f.runtime, 'national')).toEqual({ id: editionId, viaNewsletter: true });
    await expect(resolveEditionRef(f.runtime, 'national-2020-01-01')).rejects.toThrow(`No edition "national-2020-01-01". Recent editions: ${editionId}`);
  });

  test('through the binary: human output, --json, editions table', async () => {
    const human = await runCli(['status', editionId], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`${editionId} · National · Tuesday 24 November 2026`);
    expect(human.stdout).toMatch(/State: +done/);
    expect(human.stdout).toMatch(/ sent +29 \(96\.7%\)/);
    expect(human.stdout).toMatch(/ skipped +1 +\(suppressed or unsubscribed\)/);
    expect(human.stdout).toMatch(/ pending +0/);

    const json = await runCli(['status', editionId, '--json'], env);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as EditionStatus;
    expect(parsed.counts).toMatchObject({ total: 30, sent: 29, skipped: 1, pending: 0 });
    expect(parsed.state).toBe('done');

    const list = await runCli(['editions', '--limit', '5'], env);
    expect(list.code).toBe(0);
    const [header, row] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^EDITION +STATE +TOTAL +SENT +FAILED +BOUNCED +SKIPPED +PENDING +STARTED \(local\) +DURATION$/);
    expect(row).toMatch(new RegExp(`^${editionId} +done +30 +29 +0 +0 +1 +0 +2026-11-24 06:00 +0 ms$`));
    const listJson = await runCli(['editions', '--json', '--newsletter', 'national'], env);
    expect((JSON.parse(listJson.stdout) as Array<{ id: string }>).map((e) => e.id)).toEqual([editionId]);
    const unknown = await runCli(['editions', '--newsletter', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown newsletter "nope"');
    const bad = await runCli(['status', 'nope-2026-11-24'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('daybreak: No edition "nope-2026-11-24".');
  });

  test('status --watch --json follows a live edition until it is done', async () => {
    f.clock.set('2026-11-26T06:00:00Z');
    const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-26', trigger: 'manual' });
    // The watcher starts while nothing works on the edition; workers start once it has reported.
    const child = spawn(process.execPath, [bin, 'status', edition.id, '--watch', '--json', '--interval', '1'], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await until(() => stdout.includes('\n'), 20_000, 'first watch line');
    const workers = startWorkers(f.runtime, 2);
    try {
      await waitForEdition(f.runtime, edition.id, { timeoutMs: 30_000 });
      expect(await exited).toBe(0);
    } finally {
      await closeWorkers(workers);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as EditionStatus);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]?.final).toBe(false);
    const last = lines[lines.length - 1] as EditionStatus;
    expect(last).toMatchObject({ id: edition.id, state: 'done', final: true });
    expect(last.counts).toMatchObject({ pending: 0, total: 30, sent: 29, skipped: 1 });
    const settled = lines.map((l) => l.counts.sent + l.counts.failed + l.counts.skipped);
    expect([...settled].sort((a, b) => a - b)).toEqual(settled);
  });
});
