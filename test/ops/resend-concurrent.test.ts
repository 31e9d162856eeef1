import { spawn, type ChildProcess } from 'node:child_process';
import { buildEdition } from '../../src/delivery/build-edition';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { closeRuntime, writeConfigFile } from '../helpers/runtime';
import { bin, copiesByRecipient, opsFixture, runCli, until, type OpsFixture } from './fixture';

const readers = 300;

/** A built edition whose every reader is in the ledger and failed (a relay outage ended its window), with no jobs left. */
async function editionAllFailed(f: OpsFixture, localDate: string): Promise<string> {
  f.clock.set(`${localDate}T06:00:00Z`);
  const { edition } = await enqueueEdition(f.runtime, { newsletterId: 'national', localDate, trigger: 'manual' });
  await f.runtime.queues.editions.remove(`build-${edition.id}`);
  expect(await buildEdition(f.runtime, edition.id)).toBe('sending');
  const stored = (await f.runtime.editions.get(edition.id))!;
  const ids = await f.runtime.subscribers.pageMembers('national', 0, readers);
  await f.runtime.editions.fanoutPage(stored, ids, f.clock.now());
  await f.runtime.editions.fanoutDone(edition.id, f.clock.now());
  await Promise.all(ids.map((id) => f.runtime.editions.settle(edition.id, id, 'f', 'relay unreachable until the send window closed (connect ECONNREFUSED)', f.clock.now())));
  expect(await f.runtime.editions.get(edition.id)).toMatchObject({ state: 'done', failed: readers, sent: 0, total: readers });
  return edition.id;
}

describe('resends run at the same time', () => {
  let f: OpsFixture;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    f = await opsFixture('resend-concurrent', { readers, sink: { dataDelayMs: 2 } });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('an edition with failed readers queued again is sending, not done, until they are settled', async () => {
    const id = await editionAllFailed(f, '2026-11-23');
    const some = (await f.runtime.subscribers.pageMembers('national', 0, 10));
    expect(await f.runtime.editions.requeueFailed(id, some, f.clock.now(), 'test')).toEqual(some);
    const reopened = await f.runtime.editions.get(id);
    expect(reopened).toMatchObject({ state: 'sending', failed: readers - 10, total: readers });
    expect(reopened?.finishedAt).toBeUndefined();
    expect((await f.runtime.editions.history(id)).at(-1)).toMatchObject({ event: 'reopened', by: 'test', requeued: 10, from: 'done' });
    for (const s of some) await f.runtime.editions.settle(id, s, 's', `<m-${s}@x>`, f.clock.now());
    expect(await f.runtime.editions.get(id)).toMatchObject({ state: 'done', sent: 10, failed: readers - 10 });
  });

  test('two `resend --failed` at once (the real binary): both finish, every reader is sent exactly once, the edition is done with none failed', async () => {
    const id = await editionAllFailed(f, '2026-11-24');
    const configFile = writeConfigFile(f.config);
    const before = f.sink.messages.length;
    const [a, b] = await Promise.all([
      runCli(['resend', id, '--failed'], { DAYBREAK_CONFIG: configFile }, 120_000),
      runCli(['resend', id, '--failed'], { DAYBREAK_CONFIG: configFile }, 120_000),
    ]);
    for (const run of [a, b]) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // Whoever came second found the readers already taken (at planning, or at requeueing).
      expect(run.stdout).toMatch(/Done in [\d.]+ s: |no longer failed when the resend ran|nobody to resend to/);
    }
    const edition = await f.runtime.editions.get(id);
    expect(edition).toMatchObject({ state: 'done', sent: readers, failed: 0, total: readers });
    const copies = copiesByRecipient(f.sink, before);
    expect(copies.size).toBe(readers);
    expect([...copies].filter(([, n]) => n > 1)).toEqual([]);
    for await (const entry of f.runtime.editions.scanLedger(id)) expect(entry.kind).toBe('sent');
    // Whoever queued readers recorded it, and the edition reopened while they were being sent.
    const history = await f.runtime.editions.history(id, 30);
    expect(history.filter((h) => h.event === 'resend').reduce((sum, h) => sum + Number(h.queued), 0)).toBe(readers);
    expect(history.some((h) => h.event === 'reopened')).toBe(true);
  });

  test('a resend that found workers running still finishes when they go away mid-resend (it sends with its own)', async () => {
    const id = await editionAllFailed(f, '2026-11-25');
    const configFile = writeConfigFile(f.config);
    const worker = spawn(process.execPath, [bin, 'worker', '--concurrency', '4'], { env: { ...process.env, DAYBREAK_CONFIG: configFile, LOG_LEVEL: 'error', NODE_ENV: 'test' }, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(worker);
    await until(async () => (await f.runtime.queues.send('national').getWorkersCount()) > 0, 20_000, 'the worker to connect');
    const before = f.sink.messages.length;
    // Nothing is answered while the worker is there: its sends are cut off when it dies, never accepted.
    f.sink.hold();
    const resend = runCli(['resend', id, '--failed'], { DAYBREAK_CONFIG: configFile }, 120_000);
    await until(async () => (await f.runtime.editions.history(id, 5)).some((h) => h.event === 'resend'), 20_000, 'the resend to queue its jobs');
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 300));
    f.sink.release();
    const run = await resend;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('with 1 worker connection(s) already running');
    expect(run.stdout).toMatch(/Done in [\d.]+ s: 300 sent/);
    expect(await f.runtime.editions.get(id)).toMatchObject({ state: 'done', sent: readers, failed: 0, total: readers });
    const copies = copiesByRecipient(f.sink, before);
    expect(copies.size).toBe(readers);
    expect([...copies].filter(([, n]) => n > 1)).toEqual([]);
  });
});
