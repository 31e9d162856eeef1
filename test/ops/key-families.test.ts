import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BounceEvent } from '../../src/bounces/events';
import { BouncePolicy } from '../../src/bounces/policy';
import { EditionScheduler } from '../../src/delivery/scheduler';
import { verpAddress, verpSettings, type VerpSettings } from '../../src/mail/verp';
import { runEditionNow } from '../../src/ops/run-now';
import { importCsv } from '../../src/subscribers/csv';
import { RateLimiter } from '../../src/web/rate-limit';
import { closeRuntime } from '../helpers/runtime';
import { editionId, opsFixture, type OpsFixture } from './fixture';

const dayMs = 86_400_000;

interface Family {
  patterns: RegExp[];
  key: string;
  goesAway: string;
}

/** What each placeholder of the table stands for (a bounce event id and a rate-limit subject may hold colons). */
const placeholders: Record<string, string> = {
  '<id>': '\\d+', '<newsletter>': '[a-z0-9-]+', '<edition>': '[a-z0-9-]+', '<date>': '\\d{4}-\\d{2}-\\d{2}', '<hash>': '[A-Za-z0-9_-]+',
  '<event>': '.+', '<scope>': '[a-z0-9-]+', '<subject>': '.+', '<zone>': '[A-Za-z][A-Za-z0-9_+/-]*', '<group>': '[a-z][a-z0-9-]*',
};

/** The Redis model table of docs/architecture.md: each row's key patterns (as regexes under `prefix`) and its "goes away". */
function documentedFamilies(prefix: string): Family[] {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Redis model'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.map((row) => {
    const [key = '', , , goesAway = ''] = row.slice(1).split(' | ').map((cell) => cell.trim());
    const patterns = [...key.matchAll(/`([^`]+)`/g)].map((m) => {
      const source = (m[1] as string).split(/(<[a-z]+>|\*)/).map((part) => {
        if (part === '<p>') return prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (part === '*') return '.*';
        if (/^<[a-z]+>$/.test(part)) {
          if (!placeholders[part]) throw new Error(`docs/architecture.md: placeholder ${part} is not known to this test`);
          return placeholders[part];
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }).join('');
      return new RegExp(`^${source}$`);
    });
    return { patterns, key, goesAway };
  });
}

describe('every key Daybreak writes is documented, with its end: an edition\'s whole life on a fake clock', () => {
  let f: OpsFixture;
  let families: Family[];
  let finishedAt: Date;
  const seenBefore = new Set<string>();

  const familyOf = (key: string) => families.find((fam) => fam.patterns.some((p) => p.test(key)));
  async function allKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const batch of f.runtime.redis.scanStream({ match: `${f.config.redisPrefix}:*`, count: 1000 }) as AsyncIterable<string[]>) keys.push(...batch);
    return keys.sort();
  }

  beforeAll(async () => {
    f = await opsFixture('key-families', {
      readers: 12,
      email: (i) => (i === 3 ? 'gone@example.com' : `reader-${i}@example.com`),
      sink: { refuse: (address) => (address === 'gone@example.com' ? { code: 550, message: '5.1.1 no such user' } : undefined) },
      delivery: { bounceDomain: 'bounces.daybreak.test' },
    });
    families = documentedFamilies(f.config.redisPrefix);
    const { runtime, clock } = f;
    // Readers arrive every way: an import, a sign-up still pending, ops (the fixture's).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-keys-'));
    fs.writeFileSync(path.join(dir, 'list.csv'), 'email,name\nimported-1@example.com,Ann\nimported-2@example.com,\n');
    await importCsv({ store: runtime.subscribers, file: path.join(dir, 'list.csv'), knownNewsletters: ['national'], defaultNewsletters: ['national'], confirmed: true, now: () => clock.now() });
    fs.rmSync(dir, { recursive: true, force: true });
    await runtime.subscribers.requestSignup({ email: 'pending@example.com', newsletters: ['national', 'london'], context: { form: 'signup-page', consentText: 'I agree.' }, now: clock.now() });
    await runtime.subscribers.suppress('reader-5@example.com', { reason: 'hard bounce', source: 'test' });
    await new RateLimiter(runtime.redis, runtime.keys).hit('signup-ip', '203.0.113.9', { limit: 20, windowSeconds: 3600 });
    const run = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24', concurrency: 4 });
    expect(run.edition.state).toBe('done');
    finishedAt = run.edition.finishedAt as Date;
    await runtime.editions.recordProgress(editionId, clock.now());
    // Bounces come back: a DSN to a VERP address, a soft bounce by webhook, a message nobody can read.
    const policy = new BouncePolicy(runtime);
    const base = { source: 'ses' as const, at: clock.now(), hints: { verpAddresses: [], messageIds: [] } };
    const reader = f.ids.get('reader-7@example.com') as string;
    await policy.record({ ...base, id: 'dsn:1:reader-7@example.com', source: 'dsn', kind: 'hard', email: 'reader-7@example.com', status: '5.1.1', hints: { verpAddresses: [verpAddress(verpSettings(f.config) as VerpSettings, { editionId, subscriberId: reader })], messageIds: [] } } satisfies BounceEvent);
    await policy.record({ ...base, id: 'ses:2:reader-8@example.com', kind: 'soft', email: 'reader-8@example.com', reason: 'mailboxfull' } satisfies BounceEvent);
    await runtime.bounces.keepUnparsed({ at: clock.now().toISOString(), mailFrom: '', rcptTo: ['bounces@bounces.daybreak.test'], from: 'x', subject: 'x', note: 'unreadable', size: 1, raw: 'x' }, 10);
    for (const key of await allKeys()) seenBefore.add(familyOf(key)?.key ?? key);
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('the life exercised every per-edition and per-reader family the table lists', () => {
    for (const family of ['`<p>:ed:{<edition>}:ledger`', '`<p>:ed:{<edition>}:mime`', '`<p>:ed:{<edition>}:bounces`', '`<p>:ed:{<edition>}:progress`', '`<p>:sub:<id>:signup`', '`<p>:bounce:soft:<hash>`', '`<p>:bounce:seen:<event>`', '`<p>:rl:<scope>:<subject>`', '`<p>:consent:texts`', '`<p>:nl:<newsletter>:sent-articles`']) {
      expect([...seenBefore].some((k) => k.startsWith(family))).toBe(true);
    }
  });

  test('after compaction and the retention, only documented keys remain: every TTL family has one, and the per-reader data is gone', async () => {
    const scheduler = new EditionScheduler(f.runtime);
    f.clock.set(new Date(finishedAt.getTime() + 8 * dayMs));
    await scheduler.housekeep();
    expect(await f.runtime.redis.exists(f.runtime.keys.ledgerSent(editionId))).toBe(1);
    f.clock.set(new Date(finishedAt.getTime() + 401 * dayMs));
    await scheduler.housekeep();

    const keys = await allKeys();
    const undocumented = keys.filter((key) => !familyOf(key));
    expect(undocumented).toEqual([]);
    for (const key of keys) {
      const family = familyOf(key) as Family;
      if (family.goesAway.startsWith('TTL') && (await f.runtime.redis.pttl(key)) <= 0) throw new Error(`${key} has no TTL, though its family goes away by one (${family.goesAway})`);
      if (family.goesAway.includes('after the retention') && key.includes(`{${editionId}}`)) throw new Error(`${key} should have gone after the retention (${family.goesAway})`);
    }
    // What the edition keeps for good: its counts, history and archive page.
    for (const kept of [f.runtime.keys.edition(editionId), f.runtime.keys.editionHistory(editionId), f.runtime.keys.editionContent(editionId)]) expect(keys).toContain(kept);
    // Bounce log entries older than the log's retention went hourly, with no new event to trim them.
    expect(await f.runtime.redis.zcard(f.runtime.keys.bounceLog())).toBe(0);
  });
});
