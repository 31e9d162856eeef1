import type { BounceEvent } from '../../src/bounces/events';
import { BouncePolicy } from '../../src/bounces/policy';
import { bounceReport } from '../../src/bounces/report';
import { FixedClock } from '../../src/core/clock';
import { verpAddress, verpSettings, type VerpSettings } from '../../src/mail/verp';
import type { Runtime } from '../../src/app/runtime';
import { closeRuntime, setEditionFields, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';


describe('the bounce policy on real Redis', () => {
  let runtime: Runtime;
  let policy: BouncePolicy;
  const clock = new FixedClock('2026-11-24T07:00:00Z');
  const ids: Record<string, string> = {};

  /** An edition in the given state with `sent` copies recorded, and a ledger entry for each reader given. */
  async function edition(id: string, state: string, sent: number, readers: Array<[string, string]> = []): Promise<void> {
    await runtime.editions.createIfAbsent({ id, newsletterId: 'national', localDate: id.slice(-10), trigger: 'manual', scheduledFor: new Date(`${id.slice(-10)}T06:00:00Z`), now: new Date(`${id.slice(-10)}T06:00:00Z`) });
    await setEditionFields(runtime, id, { state, sent, total: sent, fanoutDone: 1 });
    for (const [sub, messageId] of readers) await runtime.redis.hset(runtime.keys.ledger(id), sub, `s|${new Date(`${id.slice(-10)}T06:00:05Z`).getTime()}|${messageId}`);
  }

  /**
   * An event whose report carries the clue a real one would: `attribution: 'verp'` puts that copy's
   * VERP address in the hints (a DSN to it, a webhook's envelope sender), `messageId` our Message-ID.
   */
  function event(over: Partial<Omit<BounceEvent, 'hints'>> & Pick<BounceEvent, 'id' | 'kind' | 'email'> & { editionId?: string; subscriberId?: string; messageId?: string; attribution?: 'verp' | 'message-id' | 'address' }): BounceEvent {
    const { editionId, subscriberId, messageId, attribution, ...rest } = over;
    const verp = attribution === 'verp' && editionId && subscriberId ? [verpAddress(verpSettings(runtime.config) as VerpSettings, { editionId, subscriberId })] : [];
    return { source: 'ses', at: clock.now(), hints: { verpAddresses: verp, messageIds: messageId ? [messageId] : [] }, ...rest };
  }

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('bounce-policy'), {
      bounces: { breaker: { minSends: 10, bounceRate: 0.05, complaintRate: 0.003 } },
      delivery: { bounceDomain: 'bounces.daybreak.test' },
    });
    runtime = testRuntime(config, { clock });
    policy = new BouncePolicy(runtime);
    for (const name of ['hard', 'soft', 'complainer', 'delayed', 'msgid', 'other', 'b1', 'b2', 'b3', 'c1', 'quiet']) {
      const { subscriber } = await runtime.subscribers.add({ email: `${name}@example.com`, newsletters: ['national'], confirmed: true, source: 'test' });
      ids[name] = subscriber.id;
    }
    await edition('national-2026-11-24', 'done', 5, Object.values(ids).map((s) => [s, `<national-2026-11-24.${s}.nonce${s}@daybreak.example>`]));
  });

  afterAll(async () => {
    await closeRuntime(runtime);
  });

  test('a hard bounce suppresses at once with reason and evidence, counts the reader once, and a redelivery changes nothing', async () => {
    const first = await policy.record(event({ id: 'ses:fb-1:hard@example.com', kind: 'hard', email: 'Hard@Example.com', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', reason: 'userunknown', editionId: 'national-2026-11-24', subscriberId: ids.hard, attribution: 'verp' }));
    expect(first).toMatchObject({ duplicate: false, suppressed: true, subscriberId: ids.hard, editionId: 'national-2026-11-24', attribution: 'verp' });
    const suppression = await runtime.subscribers.suppression('hard@example.com');
    expect(suppression).toMatchObject({ reason: 'hard bounce', source: 'ses', evidence: { status: '5.1.1', editionId: 'national-2026-11-24', eventId: 'ses:fb-1:hard@example.com', diagnostic: '550 5.1.1 user unknown' } });

    const again = await policy.record(event({ id: 'ses:fb-1:hard@example.com', kind: 'hard', email: 'hard@example.com', editionId: 'national-2026-11-24', subscriberId: ids.hard, attribution: 'verp' }));
    expect(again.duplicate).toBe(true);
    // The same bounce through another way in (a DSN as well as the webhook): a second event, the same reader.
    const viaDsn = await policy.record(event({ id: 'dsn:abc:hard@example.com', source: 'dsn', kind: 'hard', email: 'hard@example.com', editionId: 'national-2026-11-24', subscriberId: ids.hard, attribution: 'verp' }));
    expect(viaDsn).toMatchObject({ duplicate: false, suppressed: false });
    const e = await runtime.editions.get('national-2026-11-24');
    expect(e).toMatchObject({ bounced: 1 });
    expect(await runtime.redis.hget(runtime.keys.edition('national-2026-11-24'), 'bouncedHard')).toBe('1');
    const history = await runtime.subscribers.history(ids.hard!);
    expect(history.filter((h) => h.event === 'bounced-hard')).toHaveLength(2);
  });

  test('soft bounces suppress only after 3 within 14 days, each edition counting once', async () => {
    await edition('national-2026-11-02', 'done', 5, [[ids.soft!, '<x>']]);
    await edition('national-2026-11-20', 'done', 5, [[ids.soft!, '<y>']]);
    await edition('national-2026-11-21', 'done', 5, [[ids.soft!, '<z>']]);
    const soft = (id: string, editionId: string, at: string) => policy.record(event({ id, kind: 'soft', email: 'soft@example.com', editionId, subscriberId: ids.soft, attribution: 'verp', status: '5.2.2', reason: 'mailboxfull', at: new Date(at) }));
    expect(await soft('s1', 'national-2026-11-02', '2026-11-02T07:00:00Z')).toMatchObject({ softCount: 1, suppressed: false });
    // 18 days later the first has left the window.
    expect(await soft('s2', 'national-2026-11-20', '2026-11-20T07:00:00Z')).toMatchObject({ softCount: 1, suppressed: false });
    // A second report about the same edition's copy is not a second soft bounce.
    expect(await soft('s2b', 'national-2026-11-20', '2026-11-20T09:00:00Z')).toMatchObject({ softCount: 1, suppressed: false });
    expect(await soft('s3', 'national-2026-11-21', '2026-11-21T07:00:00Z')).toMatchObject({ softCount: 2, suppressed: false });
    expect(await runtime.subscribers.isSuppressed('soft@example.com')).toBe(false);
    const third = await soft('s4', 'national-2026-11-24', '2026-11-24T07:00:00Z');
    expect(third).toMatchObject({ softCount: 3, suppressed: true });
    const s = await runtime.subscribers.suppression('soft@example.com');
    expect(s?.reason).toBe('3 soft bounces within 14 days');
    expect((s?.evidence as { softBounces: string[] }).softBounces).toEqual(['national-2026-11-20', 'national-2026-11-21', 'national-2026-11-24']);
  });

  test('a complaint unsubscribes the reader from everything and suppresses them', async () => {
    const out = await policy.record(event({ id: 'ses:fb-9:complainer@example.com', kind: 'complaint', email: 'complainer@example.com', feedbackType: 'abuse', editionId: 'national-2026-11-24', subscriberId: ids.complainer, attribution: 'verp' }));
    expect(out).toMatchObject({ suppressed: true, unsubscribed: true });
    expect((await runtime.subscribers.get(ids.complainer!))?.status).toBe('unsubscribed');
    expect(await runtime.subscribers.suppression('complainer@example.com')).toMatchObject({ reason: 'spam complaint', evidence: { feedbackType: 'abuse' } });
    expect((await runtime.editions.get('national-2026-11-24'))?.complaints).toBe(1);
  });

  test('a delay is logged but never counted or suppressed', async () => {
    const before = (await runtime.editions.get('national-2026-11-24'))?.bounced;
    const out = await policy.record(event({ id: 'ses:delay:1', kind: 'delayed', email: 'delayed@example.com', editionId: 'national-2026-11-24', subscriberId: ids.delayed, attribution: 'verp' }));
    expect(out).toMatchObject({ suppressed: false, unsubscribed: false });
    expect(await runtime.subscribers.isSuppressed('delayed@example.com')).toBe(false);
    expect((await runtime.editions.get('national-2026-11-24'))?.bounced).toBe(before);
  });

  test('a Message-ID attributes only when the ledger shows that very copy; otherwise the address decides', async () => {
    const good = await policy.record(event({ id: 'dsn:m1:msgid@example.com', source: 'dsn', kind: 'soft', email: 'msgid@example.com', editionId: 'national-2026-11-24', subscriberId: ids.msgid, messageId: `<national-2026-11-24.${ids.msgid}.nonce${ids.msgid}@daybreak.example>`, attribution: 'message-id' }));
    expect(good).toMatchObject({ attribution: 'message-id', subscriberId: ids.msgid, editionId: 'national-2026-11-24' });
    // A forged report naming another reader's copy (wrong nonce) does not reach that reader.
    const forged = await policy.record(event({ id: 'dsn:m2:whoever@example.net', source: 'dsn', kind: 'hard', email: 'whoever@example.net', editionId: 'national-2026-11-24', subscriberId: ids.other, messageId: `<national-2026-11-24.${ids.other}.guessed@daybreak.example>`, attribution: 'message-id' }));
    expect(forged).toMatchObject({ attribution: 'none', suppressed: false });
    expect(forged.subscriberId).toBeUndefined();
    expect(await runtime.subscribers.isSuppressed('other@example.com')).toBe(false);
    expect(await runtime.subscribers.isSuppressed('whoever@example.net')).toBe(false);
  });

  test('a DSN naming only an address we never mailed is ignored, but a signed webhook still counts', async () => {
    const dsn = await policy.record(event({ id: 'dsn:x:quiet@example.com', source: 'dsn', kind: 'hard', email: 'quiet@example.com', attribution: 'address', at: new Date('2026-11-01T00:00:00Z') }));
    expect(dsn.suppressed).toBe(false);
    expect(await runtime.subscribers.isSuppressed('quiet@example.com')).toBe(false);
    const hook = await policy.record(event({ id: 'mailgun:y', source: 'mailgun', kind: 'hard', email: 'quiet@example.com', attribution: 'address' }));
    // Found by address, and tied to the newest edition whose ledger shows a copy sent to them.
    expect(hook).toMatchObject({ suppressed: true, subscriberId: ids.quiet, attribution: 'recent-send', editionId: 'national-2026-11-24' });
  });

  test('the report lists counts and addresses from the bounce log', async () => {
    const r = await bounceReport(runtime, { since: new Date('2026-10-01T00:00:00Z'), editionId: 'national-2026-11-24' });
    expect(r.counts.hard).toBeGreaterThanOrEqual(3);
    expect(r.counts.complaint).toBe(1);
    expect(r.counts.delayed).toBe(1);
    expect(r.edition).toMatchObject({ bounced: 4, complaints: 1 });
    expect(r.entries.map((e) => e.email)).toEqual(expect.arrayContaining(['hard@example.com', 'complainer@example.com', 'soft@example.com']));
    expect(r.suppressed).toBeGreaterThanOrEqual(3);
  });

  describe('the circuit breaker', () => {
    test('pauses a sending edition whose hard-bounce rate passes the threshold, says why, and trips once', async () => {
      await edition('national-2026-11-25', 'sending', 20);
      const hard = (n: number) => policy.record(event({ id: `brk:${n}`, kind: 'hard', email: `b${n}@example.com`, editionId: 'national-2026-11-25', subscriberId: ids[`b${n}`], attribution: 'verp' }));
      expect((await hard(1)).paused).toBeUndefined(); // 1 of 20 = 5%: not past 5%
      const second = await hard(2); // 2 of 20 = 10%
      expect(second.paused).toMatch(/^circuit breaker: hard-bounce rate 10\.0% \(2 of 20 sends/);
      const e = await runtime.editions.get('national-2026-11-25');
      expect(e?.state).toBe('paused');
      expect(e?.reason).toContain('circuit breaker');
      expect((await runtime.editions.history('national-2026-11-25')).find((h) => h.event === 'paused')).toMatchObject({ by: 'circuit-breaker', hardBounces: 2, attempted: 20 });
      // Paused editions keep their queue: the claim says so and the job waits.
      const claim = await runtime.editions.claim({ editionId: 'national-2026-11-25', newsletterId: 'national', subscriberId: ids.c1!, owner: 'job-x', leaseMs: 1000, now: clock.now(), localDate: '2026-11-25' });
      expect(claim.kind).toBe('paused');
      // Ops resume it: the same numbers do not pause it again.
      await setEditionFields(runtime, 'national-2026-11-25', { state: 'sending' });
      expect((await hard(3)).paused).toBeUndefined();
      expect((await runtime.editions.get('national-2026-11-25'))?.state).toBe('sending');
    });

    test('pauses on complaints, and never judges before the minimum number of sends', async () => {
      await edition('national-2026-11-26', 'sending', 5);
      const early = await policy.record(event({ id: 'brk:c0', kind: 'complaint', email: 'b3@example.com', editionId: 'national-2026-11-26', subscriberId: ids.b3, attribution: 'verp' }));
      expect(early.paused).toBeUndefined();
      await edition('national-2026-11-27', 'sending', 100);
      const out = await policy.record(event({ id: 'brk:c1', kind: 'complaint', email: 'c1@example.com', editionId: 'national-2026-11-27', subscriberId: ids.c1, attribution: 'verp' }));
      expect(out.paused).toMatch(/complaint rate 1\.0% \(1 of 100 sends\) passed 0\.30%/);
      expect((await runtime.editions.get('national-2026-11-27'))?.state).toBe('paused');
    });
  });
});
