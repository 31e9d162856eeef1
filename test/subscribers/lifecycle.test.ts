import type { Runtime } from '../../src/app/runtime';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { forgetReader } from '../../src/ops/erase';

const context = { form: 'signup-page', consentText: 'I agree.', ip: '203.0.113.9', userAgent: 'Test/1' };

describe('subscriber lifecycle in Redis', () => {
  let runtime: Runtime;
  const at = (iso: string) => new Date(iso);

  beforeAll(() => {
    runtime = testRuntime(testConfig(uniquePrefix('lifecycle')));
  });
  afterAll(() => closeRuntime(runtime));

  test('addresses are matched case-insensitively: one record whatever the case', async () => {
    const a = await runtime.subscribers.requestSignup({ email: 'Mixed.Case@Example.COM', newsletters: ['national'], context, now: at('2026-11-24T08:00:00Z') });
    const b = await runtime.subscribers.requestSignup({ email: 'mixed.case@example.com', newsletters: ['national'], context, now: at('2026-11-24T08:01:00Z') });
    expect(a.outcome).toBe('pending');
    expect(b.outcome).toBe('pending');
    if (a.outcome === 'pending' && b.outcome === 'pending') {
      expect(b.subscriber.id).toBe(a.subscriber.id);
      expect(b.signup.kind).toBe('again');
      expect(b.signup.nonce).toBe(a.signup.nonce);
      expect(a.subscriber.email).toBe('mixed.case@example.com');
    }
  });

  test('a stranger typing a subscriber\'s address changes nothing until the mailbox owner confirms', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'owner@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    const req = await runtime.subscribers.requestSignup({ email: 'owner@example.com', name: 'Mallory', newsletters: ['national', 'london'], context, now: at('2026-11-24T09:00:00Z') });
    expect(req.outcome).toBe('pending');
    const unchanged = await runtime.subscribers.get(subscriber.id);
    expect(unchanged).toMatchObject({ newsletters: ['national'], name: undefined, status: 'confirmed' });
    if (req.outcome !== 'pending') return;
    expect(req.signup.kind).toBe('change');
    const done = await runtime.subscribers.confirmSignup(subscriber.id, req.signup.nonce, { now: at('2026-11-24T09:05:00Z'), ip: '198.51.100.1' });
    expect(done).toMatchObject({ outcome: 'confirmed', added: ['london'], kind: 'change' });
    expect(await runtime.subscribers.get(subscriber.id)).toMatchObject({ newsletters: ['national', 'london'], name: 'Mallory' });
  });

  test('a used confirm link cannot re-subscribe someone who left afterwards', async () => {
    const req = await runtime.subscribers.requestSignup({ email: 'leaves@example.com', newsletters: ['north-east'], context, now: at('2026-11-24T10:00:00Z') });
    if (req.outcome !== 'pending') throw new Error('expected pending');
    const id = req.subscriber.id;
    expect((await runtime.subscribers.confirmSignup(id, req.signup.nonce, { now: at('2026-11-24T10:01:00Z') })).outcome).toBe('confirmed');
    await runtime.subscribers.unsubscribe(id, { reason: 'one-click', now: at('2026-11-24T11:00:00Z') });
    const replay = await runtime.subscribers.confirmSignup(id, req.signup.nonce, { now: at('2026-11-24T12:00:00Z') });
    expect(replay.outcome).toBe('used');
    expect(await runtime.subscribers.get(id)).toMatchObject({ status: 'unsubscribed', newsletters: [] });
    expect(await runtime.subscribers.pageMembers('north-east', 0, 100)).not.toContain(id);
    // A wrong nonce never confirms, and does not consume the real one.
    const again = await runtime.subscribers.requestSignup({ email: 'leaves@example.com', newsletters: ['north-east'], context, now: at('2026-11-25T10:00:00Z') });
    if (again.outcome !== 'pending') throw new Error('expected pending');
    expect(again.signup.kind).toBe('resubscribe');
    expect(again.signup.nonce).not.toBe(req.signup.nonce);
    expect((await runtime.subscribers.confirmSignup(id, 'wrong-nonce-123', { now: at('2026-11-25T10:01:00Z') })).outcome).toBe('used');
    expect((await runtime.subscribers.confirmSignup(id, again.signup.nonce, { now: at('2026-11-25T10:02:00Z') })).outcome).toBe('confirmed');
    expect((await runtime.subscribers.get(id))?.status).toBe('confirmed');
  });

  test('status history and consent log record each step', async () => {
    const id = (await runtime.subscribers.findIdByEmail('leaves@example.com')) as string;
    const events = (await runtime.subscribers.history(id)).map((h) => h.event);
    expect(events).toEqual(['created', 'confirmed', 'unsubscribed', 'sign-up requested', 'confirmed']);
    const consent = await runtime.subscribers.consent(id);
    expect(consent.map((c) => c.action)).toEqual(['given', 'withdrawn', 'given']);
    expect(consent[0]).toMatchObject({ form: 'signup-page', consentText: 'I agree.', ip: '203.0.113.9', userAgent: 'Test/1', requestedAt: '2026-11-24T10:00:00.000Z', at: '2026-11-24T10:01:00.000Z' });
    expect(consent[1]).toMatchObject({ newsletters: ['north-east'], reason: 'one-click' });
  });

  test('counts per newsletter follow sign-ups, confirmations and departures', async () => {
    const counts = await runtime.subscribers.counts(['national', 'london', 'north-east']);
    // national: owner (confirmed) + mixed.case (pending); london: owner; north-east: leaves (confirmed again, left once).
    expect(counts.national).toEqual({ confirmed: 1, pending: 1, unsubscribed: 0 });
    expect(counts.london).toEqual({ confirmed: 1, pending: 0, unsubscribed: 0 });
    expect(counts['north-east']).toEqual({ confirmed: 1, pending: 0, unsubscribed: 1 });
  });

  test('forget erases every trace but the keyed hash on the suppression list', async () => {
    const email = 'Erase.Me@Example.com';
    const req = await runtime.subscribers.requestSignup({ email, name: 'Unique Erasable Name', newsletters: ['national', 'scotland'], context, now: at('2026-11-24T13:00:00Z') });
    if (req.outcome !== 'pending') throw new Error('expected pending');
    await runtime.subscribers.confirmSignup(req.subscriber.id, req.signup.nonce, { now: at('2026-11-24T13:01:00Z') });
    await runtime.subscribers.requestSignup({ email, newsletters: ['london'], context, now: at('2026-11-24T13:02:00Z') });
    // The bounces module's records name the address too.
    await runtime.redis.zadd(runtime.keys.bounceLog(), Date.now(), JSON.stringify({ id: 'b1', kind: 'soft', email: 'erase.me@example.com', diagnostic: 'mailbox full' }));
    await runtime.redis.zadd(runtime.keys.bounceLog(), Date.now(), JSON.stringify({ id: 'b2', kind: 'hard', email: 'someone.else@example.com' }));
    await runtime.redis.lpush(runtime.keys.unparsedBounces(), JSON.stringify({ at: 'x', excerpt: 'Delivery to Erase.Me@example.com failed' }));
    const { id } = await forgetReader(runtime, email, { now: at('2026-11-24T14:00:00Z'), source: 'test' });
    expect(id).toBe(req.subscriber.id);

    // Nothing under the prefix mentions the address or the name any more.
    const keys: string[] = [];
    for await (const batch of runtime.redis.scanStream({ match: `${runtime.config.redisPrefix}:*`, count: 1000 }) as AsyncIterable<string[]>) keys.push(...batch);
    for (const key of keys) {
      const type = await runtime.redis.type(key);
      const dump = type === 'hash' ? JSON.stringify(await runtime.redis.hgetall(key))
        : type === 'list' ? JSON.stringify(await runtime.redis.lrange(key, 0, -1))
          : type === 'zset' ? JSON.stringify(await runtime.redis.zrange(key, '0', '-1'))
            : type === 'string' ? String(await runtime.redis.get(key)) : '';
      expect(dump.toLowerCase()).not.toContain('erase.me@example.com');
      expect(dump).not.toContain('Unique Erasable Name');
      if (type === 'zset' && !key.endsWith(':editions')) expect(await runtime.redis.zscore(key, id as string)).toBeNull();
    }
    expect(await runtime.redis.exists(runtime.keys.subscriber(id as string))).toBe(0);
    expect(await runtime.redis.zcard(runtime.keys.bounceLog())).toBe(1); // someone else's entry stays
    expect(await runtime.subscribers.suppression(email)).toMatchObject({ reason: 'erased', source: 'test' });
    // Signing up again is answered but stores nothing.
    expect((await runtime.subscribers.requestSignup({ email: 'erase.me@example.com', newsletters: ['national'], context, now: at('2026-11-25T09:00:00Z') })).outcome).toBe('suppressed');
    expect(await runtime.subscribers.findByEmail(email)).toBeUndefined();
  });

  test('preferences: adding for a suppressed address is refused', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'bounced@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    await runtime.subscribers.suppress('bounced@example.com', { reason: 'hard bounce', source: 'test' });
    await expect(runtime.subscribers.updatePreferences(subscriber.id, { newsletters: ['national', 'london'], now: at('2026-11-24T15:00:00Z'), context })).rejects.toMatchObject({ code: 'refused', reason: 'suppressed' });
    // Leaving is always allowed.
    const { subscriber: after } = await runtime.subscribers.updatePreferences(subscriber.id, { newsletters: [], now: at('2026-11-24T15:01:00Z'), context });
    expect(after.status).toBe('unsubscribed');
  });
});
