import type { Runtime } from '../../src/app/runtime';
import { closeRuntime, setEditionFields, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

describe('the delivery ledger (Lua, on real Redis)', () => {
  let runtime: Runtime;
  const now = new Date('2026-11-24T06:00:00Z');
  const editionId = 'national-2026-11-24';
  const ids: string[] = [];

  beforeAll(async () => {
    runtime = testRuntime(testConfig(uniquePrefix('ledger')));
    for (let i = 0; i < 5; i++) {
      const { subscriber } = await runtime.subscribers.add({ email: `l${i}@example.com`, name: `L ${i}`, newsletters: ['national'], confirmed: true });
      ids.push(subscriber.id);
    }
    await runtime.editions.createIfAbsent({ id: editionId, newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual', scheduledFor: now, now });
    await setEditionFields(runtime, editionId, { state: 'sending' });
  });
  afterAll(() => closeRuntime(runtime));

  const claim = (subscriberId: string, owner: string, extra: Partial<Parameters<Runtime['editions']['claim']>[0]> = {}) =>
    runtime.editions.claim({ editionId, newsletterId: 'national', subscriberId, owner, leaseMs: 30_000, now, localDate: '2026-11-24', ...extra });

  test('fan-out queues each member once, however often it runs', async () => {
    const edition = (await runtime.editions.get(editionId))!;
    // Each comes with the domain of its address: the fan-out paces readers by mailbox provider.
    expect(await runtime.editions.fanoutPage(edition, ids, now)).toEqual(ids.map((id) => ({ id, domain: 'example.com' })));
    await runtime.subscribers.suppress('l4@example.com', { reason: 'test', source: 'test' });
    // A second pass returns the still-queued ones again (their jobs are re-added idempotently) but counts nobody twice.
    expect((await runtime.editions.fanoutPage(edition, ids, now)).map((r) => r.id)).toEqual(ids);
    expect((await runtime.editions.get(editionId))!.total).toBe(5);
  });

  test('one claim wins; a second owner is told the reader is busy while the lease lasts', async () => {
    expect(await claim(ids[0], 'job-a')).toMatchObject({ kind: 'claimed', email: 'l0@example.com', name: 'L 0' });
    expect(await claim(ids[0], 'job-b')).toMatchObject({ kind: 'busy', holder: 'job-a' });
    // The same job (a retry, or a stalled job taken over) may claim again.
    expect((await claim(ids[0], 'job-a')).kind).toBe('claimed');
    // After the lease, another owner may take over.
    expect((await claim(ids[0], 'job-b', { now: new Date(now.getTime() + 31_000) })).kind).toBe('claimed');
  });

  test('a sent reader is never claimed again, unless an explicit resend forces it', async () => {
    await runtime.editions.settle(editionId, ids[0], 's', '<m1@x>', now);
    expect((await claim(ids[0], 'job-c')).kind).toBe('sent');
    expect((await claim(ids[0], 'resend-1', { force: true })).kind).toBe('claimed');
    await runtime.editions.settle(editionId, ids[0], 's', '<m2@x>', now);
    const edition = (await runtime.editions.get(editionId))!;
    expect(edition.sent).toBe(1); // re-sent, still counted once
  });

  test('suppression is read at claim time and settles the reader as skipped', async () => {
    expect(await claim(ids[4], 'job-4')).toEqual({ kind: 'skipped', reason: 'suppressed' });
    expect((await runtime.editions.ledgerEntry(editionId, ids[4]))?.kind).toBe('skipped');
  });

  test('a paused or cancelled edition sends nothing', async () => {
    await setEditionFields(runtime, editionId, { state: 'paused' });
    expect((await claim(ids[1], 'job-1')).kind).toBe('paused');
    await setEditionFields(runtime, editionId, { state: 'cancelled' });
    expect((await claim(ids[1], 'job-1')).kind).toBe('cancelled');
    await setEditionFields(runtime, editionId, { state: 'sending' });
  });

  test('a daily cap holds sends back once reached', async () => {
    expect((await claim(ids[1], 'job-1', { dailyCap: 2 })).kind).toBe('claimed');
    expect((await claim(ids[2], 'job-2', { dailyCap: 2 })).kind).toBe('claimed');
    expect(await claim(ids[3], 'job-3', { dailyCap: 2 })).toEqual({ kind: 'capped', used: 2 });
  });

  test('counts stay true and the edition finishes when everyone is settled', async () => {
    await runtime.editions.settle(editionId, ids[1], 'f', '550 5.1.1 user unknown', now);
    await runtime.editions.settle(editionId, ids[1], 'f', '550 5.1.1 user unknown', now); // a duplicate record counts once
    await runtime.editions.settle(editionId, ids[2], 's', '<m3@x>', now);
    expect(await runtime.editions.fanoutDone(editionId, now)).toBe(false);
    expect(await runtime.editions.settle(editionId, ids[3], 's', '<m4@x>', now)).toBe(true);
    const edition = (await runtime.editions.get(editionId))!;
    expect(edition).toMatchObject({ state: 'done', total: 5, sent: 3, failed: 1, skipped: 1 });
    const kinds: Record<string, number> = {};
    for await (const entry of runtime.editions.scanLedger(editionId, 2)) kinds[entry.kind] = (kinds[entry.kind] ?? 0) + 1;
    expect(kinds).toEqual({ sent: 3, failed: 1, skipped: 1 });
  });
});
