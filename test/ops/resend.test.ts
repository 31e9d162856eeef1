import { spawn, type ChildProcess } from 'node:child_process';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { buildEdition } from '../../src/delivery/build-edition';
import { executeResend, planResend, ResendError } from '../../src/ops/resend';
import { runEditionNow } from '../../src/ops/run-now';
import { waitForEdition } from '../../src/ops/watch';
import { pauseEdition, resumeEdition } from '../../src/ops/control';
import { closeRuntime, writeConfigFile } from '../helpers/runtime';
import { bin, copiesByRecipient, editionId, opsFixture, runCli, until, type OpsFixture } from './fixture';

describe('resend --failed: a sink that refused some recipients, then accepts them', () => {
  let f: OpsFixture;
  let refusing = true;
  const bad = (i: number) => i % 10 === 3; // readers 3, 13, 23, 33

  beforeAll(async () => {
    f = await opsFixture('resend-failed', {
      readers: 40,
      email: (i) => (bad(i) ? `picky-${i}@example.com` : `reader-${i}@example.com`),
      // Their server is down for a while (4xx, retried until the send window closes, which the
      // test's clock does once they have been tried twice): failed, but not a hard bounce, so the
      // bounce policy does not suppress them.
      sink: {
        refuse: (address, attempt) => {
          if (!refusing || !address.startsWith('picky-')) return undefined;
          if (attempt >= 2) f.clock.set('2026-11-24T12:00:00Z');
          return { code: 451, message: '4.3.0 mail server temporarily unavailable' };
        },
      },
    });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('delivers to exactly the failed readers still deliverable, once, and records who did it', async () => {
    const run = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', concurrency: 6 });
    expect(run.edition.state).toBe('done');
    expect(run.edition.failed).toBe(4);
    expect(run.edition.sent).toBe(36);
    // One failed reader is suppressed since, another unsubscribed: neither may be mailed again.
    await f.runtime.subscribers.suppress('picky-33@example.com', { reason: 'hard bounce', source: 'test' });
    await f.runtime.subscribers.unsubscribe(f.ids.get('picky-23@example.com') as string);
    refusing = false;

    const plan = await planResend(f.runtime, editionId, { failed: true });
    expect(plan.targets.map((t) => t.email)).toEqual(['picky-3@example.com', 'picky-13@example.com']);
    expect(plan.targets.every((t) => t.detail?.includes('451'))).toBe(true);
    expect(plan.notEligible.map((t) => [t.email, t.skipBecause])).toEqual([['picky-23@example.com', 'unsubscribed'], ['picky-33@example.com', 'suppressed']]);

    const before = f.sink.messages.length;
    const result = await executeResend(f.runtime, plan, { by: 'ops-tester' });
    expect(result.broughtWorkers).toBe(true);
    expect(result.outcomes).toEqual({ sent: 2 });
    const resent = f.sink.messages.slice(before).flatMap((m) => m.recipients).sort();
    expect(resent).toEqual(['picky-13@example.com', 'picky-3@example.com']);

    const edition = await f.runtime.editions.get(editionId);
    expect(edition).toMatchObject({ state: 'done', sent: 38, failed: 2, total: 40 });
    expect((await f.runtime.editions.ledgerEntry(editionId, f.ids.get('picky-3@example.com') as string))?.kind).toBe('sent');
    const history = await f.runtime.editions.history(editionId);
    const resend = history.find((h) => h.event === 'resend');
    expect(resend).toMatchObject({ by: 'ops-tester', mode: 'failed', queued: 2 });
    expect(new Date(resend?.at as string).toISOString()).toBe(resend?.at);
    expect(history.find((h) => h.event === 'resend-finished')).toMatchObject({ by: 'ops-tester', sent: 2 });

    // Nothing failed is left that may be mailed: a second run sends nothing.
    const again = await planResend(f.runtime, editionId, { failed: true });
    expect(again.targets).toEqual([]);
    expect(copiesByRecipient(f.sink).get('picky-3@example.com')).toBe(1);
    expect([...copiesByRecipient(f.sink).values()].every((n) => n === 1)).toBe(true);
  });

  test('two ops running the same --failed resend at once still mail each reader once', async () => {
    // Make two more failures by hand: readers whose send "failed" in the ledger.
    for (const email of ['reader-5@example.com', 'reader-6@example.com']) {
      const id = f.ids.get(email) as string;
      await f.runtime.editions.settle(editionId, id, 'f', '421 4.4.2 connection dropped', f.clock.now());
    }
    const copiesBefore = copiesByRecipient(f.sink);
    const planA = await planResend(f.runtime, editionId, { failed: true });
    const planB = await planResend(f.runtime, editionId, { failed: true });
    expect(planA.targets).toHaveLength(2);
    const [a, b] = await Promise.all([executeResend(f.runtime, planA, { by: 'a' }), executeResend(f.runtime, planB, { by: 'b' })]);
    // The requeue is atomic: one run takes each reader, the other finds it no longer failed.
    expect(a.alreadyHandled + b.alreadyHandled).toBe(2);
    const copies = copiesByRecipient(f.sink);
    expect((copies.get('reader-5@example.com') ?? 0) - (copiesBefore.get('reader-5@example.com') ?? 0)).toBe(1);
    expect((copies.get('reader-6@example.com') ?? 0) - (copiesBefore.get('reader-6@example.com') ?? 0)).toBe(1);
    expect(await f.runtime.editions.get(editionId)).toMatchObject({ sent: 38, failed: 2, total: 40 });
  });

  test('--to resends one reader even if already sent, without counting them twice', async () => {
    const before = f.sink.messages.length;
    const plan = await planResend(f.runtime, editionId, { to: 'Reader-1@Example.com' });
    expect(plan.targets).toHaveLength(1);
    expect(plan.targets[0]?.detail).toMatch(/^sent: </);
    const result = await executeResend(f.runtime, plan, { by: 'ops-tester' });
    expect(result.outcomes).toEqual({ sent: 1 });
    expect(f.sink.messages.slice(before).flatMap((m) => m.recipients)).toEqual(['reader-1@example.com']);
    const edition = await f.runtime.editions.get(editionId);
    expect(edition?.sent).toBe(38);
    expect(edition ? edition.sent + edition.failed + edition.skipped : 0).toBe(edition?.total);
    expect((await f.runtime.editions.history(editionId)).filter((h) => h.event === 'resend' && h.mode === 'to')).toHaveLength(1);
  });

  test('refuses what it must not do, with a message that says why', async () => {
    await expect(planResend(f.runtime, editionId, { to: 'picky-33@example.com' })).rejects.toThrow(/suppressed/);
    await expect(planResend(f.runtime, editionId, { to: 'nobody@example.com' })).rejects.toThrow(/No subscriber has the address nobody@example.com.*test-send/);
    await expect(planResend(f.runtime, 'national-2030-01-01', { failed: true })).rejects.toThrow(/No edition "national-2030-01-01".*national-2026-11-24/);
    await expect(planResend(f.runtime, editionId, {})).rejects.toThrow(ResendError);
    await expect(planResend(f.runtime, editionId, { to: 'reader-1@example.com', failed: true })).rejects.toThrow(/does not combine/);
  });
});

describe('resend --unsent: an edition interrupted midway', () => {
  let f: OpsFixture;
  const children: ChildProcess[] = [];
  const readers = 120;

  beforeAll(async () => {
    f = await opsFixture('resend-unsent', { readers, sink: { dataDelayMs: 15 } });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('a worker killed mid-edition: `daybreak resend --unsent` (the real binary) completes it, nobody mailed twice', async () => {
    const configFile = writeConfigFile(f.config);
    // Built here with the test's clock (a child process has the system clock, so its pick would
    // depend on the time of day); the worker process fans out and sends.
    const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' });
    await f.runtime.queues.editions.remove(`build-${edition.id}`);
    expect(await buildEdition(f.runtime, edition.id)).toBe('sending');
    expect((await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' })).queued).toBe(true);
    const worker = spawn(process.execPath, [bin, 'worker', '--concurrency', '6'], { env: { ...process.env, DAYBREAK_CONFIG: configFile, LOG_LEVEL: 'error', NODE_ENV: 'test' }, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(worker);
    await f.sink.waitForCount(30, 40_000);
    // Freeze the sink so no message sits between "accepted" and "recorded", then kill -9 (see worker-crash.test.ts).
    f.sink.hold();
    await new Promise((r) => setTimeout(r, 200));
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 300));
    f.sink.release();
    const interrupted = await f.runtime.editions.get(edition.id);
    expect(interrupted?.state).toBe('sending');
    expect(interrupted?.sent).toBeLessThan(readers);

    const dry = await runCli(['resend', edition.id, '--unsent', '--dry-run'], { DAYBREAK_CONFIG: configFile });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Dry run: would resend ${edition.id} (unsent) to ${readers - (interrupted?.sent ?? 0)} reader(s)`);
    expect(f.sink.messages.length).toBe(interrupted?.sent);

    const run = await runCli(['resend', edition.id, '--unsent'], { DAYBREAK_CONFIG: configFile }, 90_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('No workers were running, so this command ran its own.');
    expect(run.stdout).toMatch(/Done in [\d.]+ s: /);

    const done = await waitForEdition(f.runtime, edition.id, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ state: 'done', sent: readers, failed: 0, total: readers });
    const copies = copiesByRecipient(f.sink);
    expect(copies.size).toBe(readers);
    expect([...copies].filter(([, n]) => n > 1)).toEqual([]);
    const history = await f.runtime.editions.history(edition.id);
    expect(history.find((h) => h.event === 'resend')).toMatchObject({ mode: 'unsent' });
    expect(typeof history.find((h) => h.event === 'resend')?.by).toBe('string');
  });

  test('a fan-out interrupted before it queued everyone: --unsent reaches the members it never queued', async () => {
    f.clock.set('2026-11-25T06:00:00Z');
    const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate: '2026-11-25', trigger: 'manual' });
    await f.runtime.queues.editions.remove(`build-${edition.id}`);
    expect(await buildEdition(f.runtime, edition.id)).toBe('sending');
    // The fan-out got through one page of 25 readers and died before adding their jobs.
    const firstPage = await f.runtime.subscribers.pageMembers('national', 0, 25);
    const stored = await f.runtime.editions.get(edition.id);
    await f.runtime.editions.fanoutPage(stored!, firstPage, f.clock.now());
    // One of the never-queued readers was suppressed since: the claim settles them as skipped.
    await f.runtime.subscribers.suppress('reader-100@example.com', { reason: 'complaint', source: 'test' });

    const plan = await planResend(f.runtime, edition.id, { unsent: true });
    expect(plan.completesFanout).toBe(true);
    expect(plan.targets.filter((t) => t.reason === 'queued')).toHaveLength(25);
    expect(plan.targets.filter((t) => t.reason === 'not-in-ledger')).toHaveLength(readers - 25);
    expect(plan.targets.find((t) => t.email === 'reader-100@example.com')?.skipBecause).toBe('suppressed');

    const before = f.sink.messages.length;
    const result = await executeResend(f.runtime, plan, { by: 'ops-tester' });
    expect(result.outcomes).toEqual({ sent: readers - 1, skipped: 1 });
    const done = await waitForEdition(f.runtime, edition.id, { timeoutMs: 10_000 });
    expect(done).toMatchObject({ state: 'done', sent: readers - 1, skipped: 1, total: readers, fanoutDone: true });
    const copies = copiesByRecipient(f.sink, before);
    expect(copies.size).toBe(readers - 1);
    expect([...copies.values()].every((n) => n === 1)).toBe(true);

    // And once done, --unsent finds nobody: the edition's readers all have a settled mark.
    expect((await planResend(f.runtime, edition.id, { unsent: true })).targets).toEqual([]);
  });

  test('a paused edition is not resent (its queue would hold the jobs); resume first', async () => {
    await f.runtime.redis.hset(f.runtime.keys.edition('national-2026-11-25'), 'state', 'sending');
    await pauseEdition(f.runtime, 'national-2026-11-25', { by: 'test' });
    await expect(planResend(f.runtime, 'national-2026-11-25', { unsent: true })).rejects.toThrow(/paused; resume it first/);
    await resumeEdition(f.runtime, 'national-2026-11-25', { by: 'test' });
    await until(async () => (await f.runtime.editions.get('national-2026-11-25'))?.state === 'done', 5000, 'done after resume');
  });
});
