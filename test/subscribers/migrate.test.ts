import type { Runtime } from '../../src/app/runtime';
import type { ConsentRecord, Subscriber, SubscriberEvent } from '../../src/subscribers/store';
import { migrate } from '../../src/ops/migrate';
import { runCli } from '../helpers/cli';
import { prng } from '../helpers/prng';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';

/** A reader as the earlier Daybreak stored one (before `daybreak migrate`): what to write, and what must read back. */
interface Legacy {
  subscriber: Subscriber;
  history: SubscriberEvent[];
  consent: ConsentRecord[];
}

const at = (ms: number) => new Date(ms).toISOString();

function legacyReader(id: number, random: () => number): Legacy {
  const created = Date.UTC(2025, 0, 1) + Math.floor(random() * 300 * 86_400_000);
  const status = (['confirmed', 'confirmed', 'confirmed', 'pending', 'unsubscribed'] as const)[id % 5] as Subscriber['status'];
  const newsletters = status === 'unsubscribed' ? [] : id % 3 === 0 ? ['national', 'london'] : ['national'];
  const names = [undefined, 'Ada Lovelace', 'José | Ñúñez', '李雷 🌅', "Tom O'Neill"];
  const email = `legacy.${id}@example${id % 13}.com`;
  const subscriber: Subscriber = {
    id: String(id), email, name: names[id % names.length], status, newsletters, emailHash: `hash-of-${id}`.padEnd(32, 'x'),
    createdAt: new Date(created), updatedAt: new Date(created + 3_600_000), source: id % 2 ? 'import:old.csv' : 'signup-page',
    ...(status === 'confirmed' || status === 'unsubscribed' ? { confirmedAt: new Date(created + 60_000) } : {}),
  };
  const history: SubscriberEvent[] = [{ at: at(created), event: 'imported', detail: { status, newsletters, source: 'import:old.csv' } }];
  // One reader with a long history: the newest 50 are kept.
  const extra = id === 42 ? 60 : Math.floor(random() * 3);
  for (let k = 0; k < extra; k++) history.push({ at: at(created + (k + 1) * 1000), event: k % 2 ? 'bounced-soft' : 'a custom event', detail: { k, note: 'mailbox "full"\nagain' } });
  const consent: ConsentRecord[] = status === 'pending' ? [] : [{
    at: at(created + 60_000), action: 'given', newsletters: ['national'], form: 'signup-page', consentText: id % 7 ? 'I agree to the emails.' : 'An older consent line.',
    requestedAt: at(created), ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (X11; Linux) | test', confirmedIp: '198.51.100.2',
  }];
  if (status === 'unsubscribed') consent.push({ at: at(created + 3_600_000), action: 'withdrawn', newsletters: ['national'], reason: 'one-click' });
  return { subscriber, history, consent };
}

/** Writes readers exactly as the earlier Daybreak did: long hash fields, JSON lists, sorted sets, the all-subscribers index. */
async function writeLegacy(runtime: Runtime, readers: Legacy[], lastId: number): Promise<void> {
  const { redis, keys } = runtime;
  const p = redis.pipeline();
  for (const { subscriber: s, history, consent } of readers) {
    p.hset(keys.subscriber(s.id), {
      id: s.id, email: s.email, emailHash: s.emailHash, status: s.status, newsletters: s.newsletters.join(','), createdAt: s.createdAt.getTime(),
      updatedAt: s.updatedAt.getTime(), source: s.source ?? '', ...(s.name ? { name: s.name } : {}), ...(s.confirmedAt ? { confirmedAt: s.confirmedAt.getTime() } : {}),
    });
    p.hset(keys.subscriberByEmail(), s.email, s.id);
    p.zadd(keys.legacyAllSubscribers(), Number(s.id), s.id);
    for (const nl of s.newsletters) p.zadd(s.status === 'confirmed' ? keys.members(nl) : keys.pendingMembers(nl), Number(s.id), s.id);
    if (history.length) p.rpush(keys.subscriberHistory(s.id), ...history.map((h) => JSON.stringify(h)));
    if (consent.length) p.rpush(keys.subscriberConsent(s.id), ...consent.map((c) => JSON.stringify(c)));
  }
  p.set(keys.subscriberSeq(), lastId);
  p.sadd(keys.sentArticles('national'), 'article-1', 'article-2');
  await p.exec();
}

/** Every key under the prefix with its DUMP, to compare runs byte for byte. */
async function snapshot(runtime: Runtime): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const batch of runtime.redis.scanStream({ match: `${runtime.config.redisPrefix}:*`, count: 1000 }) as AsyncIterable<string[]>) {
    for (const key of batch) out.set(key, ((await runtime.redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('base64'));
  }
  return out;
}

describe('daybreak migrate: readers stored by an earlier Daybreak, converted in place', () => {
  let runtime: Runtime;
  let env: Record<string, string>;
  const readers: Legacy[] = [];
  const erased = new Set([7, 700]);
  const last = 1203;

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('migrate'));
    runtime = testRuntime(config);
    env = { DAYBREAK_CONFIG: writeConfigFile(config) };
    const random = prng(11);
    for (let id = 1; id <= last; id++) if (!erased.has(id)) readers.push(legacyReader(id, random));
    await writeLegacy(runtime, readers, last);
  });
  afterAll(() => closeRuntime(runtime));

  test('until it has run, other commands refuse, naming it', async () => {
    const status = await runCli(['subscribers', 'counts'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('run `daybreak migrate`');
  });

  test('a crash part-way leaves it resumable; the rerun, through the binary, finishes it and reports its progress', async () => {
    await expect(migrate(runtime, { pageSize: 500, afterPage: (done) => {
      if (done === 500) throw new Error('killed');
    } })).rejects.toThrow('killed');
    expect(await runtime.subscribers.hasLegacyData()).toBe(true);
    expect((await runtime.subscribers.get('3'))?.email).toBe('legacy.3@example3.com');
    const run = await runCli(['migrate'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`readers: ${last.toLocaleString('en-GB')} of ${last.toLocaleString('en-GB')} (100%)`);
    expect(run.stdout).toContain(`Readers: ${(readers.length - 499).toLocaleString('en-GB')} converted, 499 already in the current form, 2 ids unused or erased.`);
    expect(run.stdout).toContain('Done: everything is in the current form.');
    expect(await runtime.subscribers.hasLegacyData()).toBe(false);
  });

  test('every reader reads back as it was: record, history (the newest 50), consent log, memberships and counts', async () => {
    for (const { subscriber, history, consent } of readers) {
      expect(await runtime.subscribers.get(subscriber.id)).toEqual(subscriber);
      expect(await runtime.subscribers.history(subscriber.id)).toEqual(history.slice(-50));
      expect(await runtime.subscribers.consent(subscriber.id)).toEqual(consent);
    }
    // A first history entry the record itself says (imported, unchanged since) is left implicit, as for a new import.
    const implicit = readers.filter((r) => r.subscriber.source === 'import:old.csv' && r.subscriber.status !== 'unsubscribed').map((r) => r.subscriber.id);
    expect(implicit.length).toBeGreaterThan(100);
    for (const id of implicit.slice(0, 50)) expect(await runtime.redis.hget(runtime.keys.subscriber(id), 'i')).toBe('I');
    const confirmed = (nl: string) => readers.filter((r) => r.subscriber.status === 'confirmed' && r.subscriber.newsletters.includes(nl)).map((r) => r.subscriber.id);
    expect(await runtime.subscribers.pageMembers('national', 0, 10_000)).toEqual(confirmed('national'));
    expect(await runtime.subscribers.pageMembers('london', 100, 50)).toEqual(confirmed('london').filter((id) => Number(id) > 100).slice(0, 50));
    const counts = await runtime.subscribers.counts(['national', 'london']);
    expect(counts.national?.pending).toBe(readers.filter((r) => r.subscriber.status === 'pending').length);
    expect(counts.london?.confirmed).toBe(confirmed('london').length);
    expect(await runtime.editions.alreadySentArticles('national', ['article-1', 'article-3'])).toEqual(new Set(['article-1']));
    expect(await runtime.redis.type(runtime.keys.sentArticles('national'))).toBe('zset');
    // The reader changes on from here like any other.
    await runtime.subscribers.unsubscribe('1', { reason: 'test', now: new Date('2026-11-30T08:00:00Z') });
    expect((await runtime.subscribers.history('1')).at(-1)).toMatchObject({ event: 'unsubscribed', detail: { reason: 'test' } });
  });

  test('running it again changes nothing', async () => {
    const before = await snapshot(runtime);
    const run = await runCli(['migrate'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Nothing to migrate');
    expect(await snapshot(runtime)).toEqual(before);
  });
});
