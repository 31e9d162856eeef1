import type { FastifyInstance } from 'fastify';
import { storyKey } from '../../src/mail/edition-links';
import { runEditionNow } from '../../src/ops/run-now';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, writeConfigFile } from '../helpers/runtime';
import { editionId, opsFixture, runCli, type OpsFixture } from './fixture';

/** The story links a reader's copy carries, in the order the email shows them (each once). */
async function storyLinksOf(f: OpsFixture, address: string): Promise<string[]> {
  const message = f.sink.messages.find((m) => m.recipients.includes(address));
  if (!message) throw new Error(`${address} got no copy`);
  const html = (await f.sink.parse(message)).html || '';
  return [...new Set([...html.matchAll(/href="(http:\/\/daybreak\.test\/r\/[^"]+)"/g)].map((m) => (m[1] as string).replace(/&amp;/g, '&')))];
}

const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;
const browser = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

describe('story clicks', () => {
  let f: OpsFixture;
  let app: FastifyInstance;
  let links: string[];

  beforeAll(async () => {
    f = await opsFixture('clicks', { readers: 3 });
    await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    app = await buildWebServer(f.runtime);
    links = await storyLinksOf(f, 'reader-1@example.com');
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  const counts = async () => f.runtime.clicks.counts(editionId);
  const follow = (url: string, options: { ip?: string; ua?: string; method?: 'GET' | 'HEAD' } = {}) =>
    app.inject({ method: options.method ?? 'GET', url: pathOf(url), remoteAddress: options.ip ?? '203.0.113.7', headers: { 'user-agent': options.ua ?? browser } });

  test('every copy carries the same story links, which name no reader', async () => {
    const edition = await f.runtime.editions.get(editionId);
    expect(links).toHaveLength(edition?.articles.length ?? -1);
    expect(await storyLinksOf(f, 'reader-2@example.com')).toEqual(links);
    for (const link of links) {
      expect(link).toMatch(/^http:\/\/daybreak\.test\/r\/national-2026-11-24\/[A-Za-z0-9_-]{11}\/[A-Za-z0-9_-]{22}$/);
      for (const id of f.ids.values()) expect(link).not.toContain(`/${id}/`);
    }
    // The text part links the same way, and no copy has an open-tracking pixel.
    const message = f.sink.messages.find((m) => m.recipients.includes('reader-1@example.com'));
    const parsed = await f.sink.parse(message as (typeof f.sink.messages)[number]);
    for (const link of links) expect(parsed.text).toContain(link);
    expect(parsed.html).not.toMatch(/<img[^>]+(width="1"|height="1")/);
  });

  test('a click is counted once and redirected to the story, with no cookie', async () => {
    const edition = await f.runtime.editions.get(editionId);
    const story = edition?.articles[2];
    const link = links[2] as string;
    const res = await follow(link, { ip: '198.51.100.20' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(story?.url);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await counts()).get(storyKey(story?.id as string))).toEqual({ human: 1, automated: 0 });
    // The same person following it again within the minute is not a second reader.
    expect((await follow(link, { ip: '198.51.100.20' })).statusCode).toBe(302);
    expect((await counts()).get(storyKey(story?.id as string))).toEqual({ human: 1, automated: 0 });
    // Another reader is.
    await follow(link, { ip: '198.51.100.21' });
    expect((await counts()).get(storyKey(story?.id as string))).toEqual({ human: 2, automated: 0 });
  });

  test('HEAD requests and link scanners are counted as automated, not as readers', async () => {
    const edition = await f.runtime.editions.get(editionId);
    const key = storyKey(edition?.articles[0]?.id as string);
    const before = (await counts()).get(key) ?? { human: 0, automated: 0 };
    const head = await follow(links[0] as string, { method: 'HEAD', ip: '192.0.2.1' });
    expect(head.statusCode).toBe(302);
    for (const [i, ua] of ['Mozilla/5.0 (compatible; Slackbot-LinkExpanding 1.0; +https://api.slack.com/robots)', 'curl/8.5.0', 'python-requests/2.32.3', 'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5', 'Mimecast URL Protect', ''].entries()) {
      expect((await follow(links[0] as string, { ip: `192.0.2.${10 + i}`, ua })).statusCode).toBe(302);
    }
    expect((await counts()).get(key)).toEqual({ human: before.human, automated: before.automated + 7 });
  });

  test('a burst that follows most links of the edition from one client within seconds is automated, earlier clicks of it included', async () => {
    const before = await counts();
    const sum = (m: Map<string, { human: number; automated: number }>, k: 'human' | 'automated') => [...m.values()].reduce((s, c) => s + c[k], 0);
    // A security gateway with a browser's user agent follows every link at once.
    for (const link of links) expect((await follow(link, { ip: '10.9.8.7' })).statusCode).toBe(302);
    const after = await counts();
    expect(sum(after, 'human')).toBe(sum(before, 'human'));
    expect(sum(after, 'automated')).toBe(sum(before, 'automated') + links.length);
    // A person reading two stories from the same network moments later is still counted as a person.
    await follow(links[1] as string, { ip: '10.9.8.8' });
    await follow(links[3] as string, { ip: '10.9.8.8' });
    expect(sum(await counts(), 'human')).toBe(sum(before, 'human') + 2);
  });

  test("the burst rule's memory of a client is gone within a minute and names no reader", async () => {
    const keys = await f.runtime.redis.keys(`${f.config.redisPrefix}:clicks:*:client:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await f.runtime.redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(key).not.toContain('198.51.100');
    }
  });

  test('a tampered, unsigned or unknown story link gets the branded 404 and is not counted', async () => {
    const before = JSON.stringify([...(await counts())]);
    const link = new URL(links[0] as string);
    const [, , ed, key, sig] = link.pathname.split('/') as [string, string, string, string, string];
    const other = new URL(links[1] as string).pathname.split('/')[3] as string;
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const path of [
      `/r/${ed}/${key}/${flip(sig)}`, // a changed signature
      `/r/${ed}/${other}/${sig}`, // another story under this story's signature
      `/r/national-2026-11-25/${key}/${sig}`, // another edition
      `/r/${ed}/${key}`, // no signature
      `/r/${ed}/${key}/${sig}x`,
      `/r/${ed}/${key}/${sig}?next=https://evil.example/`,
    ]) {
      const res = await app.inject({ url: path, headers: { 'user-agent': browser, accept: 'text/html' } });
      if (path.includes('?next=')) {
        // A query string changes nothing: the target still comes from the edition, never the request.
        expect(res.statusCode).toBe(302);
        expect(res.headers.location).not.toContain('evil.example');
        continue;
      }
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toContain('Page not found');
      expect(res.headers.location).toBeUndefined();
    }
    // A well-signed link to a story the edition does not carry (a key we signed for nothing) is refused too.
    const signer = f.runtime.signer.editionLinks;
    const stray = storyKey('not-in-this-edition');
    expect((await app.inject({ url: `/r/${ed}/${stray}/${signer.clickSignature(ed, stray)}` })).statusCode).toBe(404);
    const after = new Map(await counts());
    // Only the ?next= request (a real link) counted.
    expect(JSON.stringify([...after])).not.toBe(before);
  });

  test('links keep working with nothing but the edition hash left (per-reader data compacted)', async () => {
    const { keys } = f.runtime;
    await f.runtime.redis.del(keys.ledger(editionId), keys.editionContent(editionId), keys.editionMime(editionId), keys.editionBounces(editionId), keys.editionProgress(editionId));
    const res = await follow(links[4] as string, { ip: '198.51.100.99' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toMatch(/^https:\/\/news\.example\//);
  });
});

describe('the edition report', () => {
  let f: OpsFixture;
  let app: FastifyInstance;
  let links: string[];
  const admin = { DAYBREAK_ADMIN_USER: 'ops', DAYBREAK_ADMIN_PASSWORD: 'correct horse battery staple' };
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  beforeAll(async () => {
    // reader-5's server refuses for good: a hard bounce at send time.
    f = await opsFixture('report', { readers: 8, sink: { refuse: (a) => (a === 'reader-5@example.com' ? { code: 550, message: '5.1.1 user unknown' } : undefined) } });
    await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    app = await buildWebServer(f.runtime, { env: admin });
    links = await storyLinksOf(f, 'reader-1@example.com');
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  /** The List-Unsubscribe URL of a reader's copy. */
  async function listUnsubscribe(address: string): Promise<string> {
    const message = f.sink.messages.find((m) => m.recipients.includes(address));
    const head = (message?.raw.toString('latin1') ?? '').split('\r\n\r\n')[0]?.replace(/\r\n[ \t]+/g, ' ') ?? '';
    const url = /^List-Unsubscribe: <(http[^>]+)>/m.exec(head)?.[1];
    if (!url) throw new Error(`no List-Unsubscribe URL for ${address}`);
    return url;
  }

  test("the report's figures: sent, failed, bounced hard and soft, complaints, unsubscribes from its links, clicks per story ranked", async () => {
    const now = f.clock.now();
    const id = (n: number) => f.ids.get(`reader-${n}@example.com`) as string;
    // A soft bounce (a DSN) and a complaint (an ESP webhook), each attributed to the edition.
    await f.runtime.bouncePolicy.record({ id: 'dsn:report:4', source: 'dsn', kind: 'soft', email: 'reader-4@example.com', hints: { send: { editionId, subscriberId: id(4) }, verpAddresses: [], messageIds: [] }, status: '4.2.2', diagnostic: 'mailbox full', at: now });
    await f.runtime.bouncePolicy.record({ id: 'mailgun:report:3', source: 'mailgun', kind: 'complaint', email: 'reader-3@example.com', hints: { send: { editionId, subscriberId: id(3) }, verpAddresses: [], messageIds: [] }, at: now });
    // reader-2's mail provider sends the RFC 8058 one-click POST, twice; reader-1 uses the page's button.
    const oneClick = pathOf(await listUnsubscribe('reader-2@example.com'));
    expect(oneClick).toMatch(/\?e=national-2026-11-24\./);
    for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'POST', url: oneClick, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode).toBe(200);
    const page = await app.inject({ url: pathOf(await listUnsubscribe('reader-1@example.com')) });
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&') as string;
    expect(action).toContain('?e=');
    expect((await app.inject({ method: 'POST', url: action, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode).toBe(200);
    // A forged edition on a real unsubscribe link unsubscribes but counts against no edition.
    const forged = pathOf(await listUnsubscribe('reader-6@example.com')).replace(/\?e=.*$/, '?e=national-2026-11-24.AAAAAAAAAAAAAAAAAAAAAA');
    expect((await app.inject({ method: 'POST', url: forged, payload: '' })).statusCode).toBe(200);
    // Clicks: story 3 twice by people, story 1 once, and a scanner on story 1.
    const click = (url: string, ip: string, ua = browser) => app.inject({ url: pathOf(url), remoteAddress: ip, headers: { 'user-agent': ua } });
    await click(links[2] as string, '198.51.100.1');
    await click(links[2] as string, '198.51.100.2');
    await click(links[0] as string, '198.51.100.3');
    await click(links[0] as string, '192.0.2.50', 'Mozilla/5.0 (compatible; Barracuda Sentinel)');

    const edition = await f.runtime.editions.get(editionId);
    const articles = edition?.articles ?? [];
    const expectStories = (stories: Array<{ rank: number; position: number; title: string; human: number; automated: number }>) => {
      expect(stories.slice(0, 2).map((s) => [s.rank, s.position, s.title, s.human, s.automated])).toEqual([
        [1, 3, articles[2]?.title, 2, 0],
        [2, 1, articles[0]?.title, 1, 1],
      ]);
      expect(stories).toHaveLength(articles.length);
      expect(stories.slice(2).every((s) => s.human === 0 && s.automated === 0)).toBe(true);
      // Stories nobody clicked keep the email's order.
      expect(stories.slice(2).map((s) => s.position)).toEqual([...stories.slice(2).map((s) => s.position)].sort((a, b) => a - b));
    };

    // The command line, as ops run it.
    const env = { DAYBREAK_CONFIG: writeConfigFile(f.config) };
    const json = await runCli(['report', editionId, '--json'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { delivery: Record<string, unknown>; clicks: { counted: boolean; human: number; automated: number; stories: Array<{ rank: number; position: number; title: string; human: number; automated: number }> } };
    expect(report.delivery).toEqual({ total: 8, sent: 7, failed: 1, skipped: 0, bounced: { total: 2, hard: 1, soft: 1 }, complaints: 1, unsubscribes: 2 });
    expect(report.clicks).toMatchObject({ counted: true, human: 3, automated: 1 });
    expectStories(report.clicks.stories);
    const text = await runCli(['report', 'national'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/bounced\s+2\s+\(1 hard, 1 soft\)/);
    expect(text.stdout).toMatch(/unsubscribes\s+2/);
    expect(text.stdout).toContain('3 by readers, 1 automated');
    expect(text.stdout).toMatch(new RegExp(`\\n\\s+1\\s+2\\s+0\\s+${articles[2]?.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    // The ops page: behind the admin credentials (or the ops token), same figures.
    expect((await app.inject({ url: `/ops/editions/${editionId}/report` })).statusCode).toBe(401);
    expect((await app.inject({ url: `/ops/editions/${editionId}/report`, headers: basic('ops', 'wrong') })).statusCode).toBe(401);
    const html = await app.inject({ url: `/ops/editions/${editionId}/report`, headers: basic(admin.DAYBREAK_ADMIN_USER, admin.DAYBREAK_ADMIN_PASSWORD) });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('Clicks per story');
    expect(html.body).toContain('bounced (1 hard, 1 soft)');
    expect(html.body).not.toMatch(/reader-\d@example\.com/);
    const pageJson = await app.inject({ url: `/ops/editions/${editionId}/report.json`, headers: basic(admin.DAYBREAK_ADMIN_USER, admin.DAYBREAK_ADMIN_PASSWORD) });
    expectStories((pageJson.json() as typeof report).clicks.stories);
    expect((await app.inject({ url: '/ops/editions/national-2020-01-01/report', headers: basic(admin.DAYBREAK_ADMIN_USER, admin.DAYBREAK_ADMIN_PASSWORD) })).statusCode).toBe(404);

    // Prometheus: every click and the automated ones, per newsletter.
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('daybreak_clicks_total{newsletter="national"} 4');
    expect(metrics).toContain('daybreak_clicks_automated_total{newsletter="national"} 1');
  });
});

describe('newsletter click settings', () => {
  test('with click redirects off, story links go straight to the articles and nothing is counted', async () => {
    const f = await opsFixture('clicks-off', { readers: 1 });
    try {
      const config = { ...f.config, newsletters: f.config.newsletters.map((n) => (n.id === 'national' ? { ...n, clicks: { redirect: false, perReader: false } } : n)) };
      const { testRuntime } = await import('../helpers/runtime');
      const runtime = testRuntime(config, { clock: f.clock });
      try {
        await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
        const html = (await f.sink.parse(f.sink.messages[0] as (typeof f.sink.messages)[number])).html || '';
        expect(html).not.toContain('/r/national-2026-11-24/');
        const edition = await runtime.editions.get(editionId);
        for (const a of edition?.articles ?? []) expect(html.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=')).toContain(`href="${a.url}"`);
        const report = await (await import('../../src/ops/report')).editionReport(runtime, editionId);
        expect(report.clicks.counted).toBe(false);
      } finally {
        await runtime.close();
        runtime.redis.disconnect();
      }
    } finally {
      await closeRuntime(f.runtime);
      await f.sink.close();
    }
  });

  test('per-reader click records: only in a newsletter that opted in, and only for readers whose consent said so', async () => {
    const f = await opsFixture('clicks-per-reader', { readers: 0 });
    const config = { ...f.config, newsletters: f.config.newsletters.map((n) => (n.id === 'national' ? { ...n, clicks: { redirect: true, perReader: true } } : n)) };
    const { testRuntime } = await import('../helpers/runtime');
    const runtime = testRuntime(config, { clock: f.clock });
    const web = await buildWebServer(runtime);
    try {
      // The sign-up form says so, naming the newsletter, and the consent it records carries it.
      const form = await web.inject({ url: '/subscribe' });
      expect(form.body).toContain('For National, we also record which stories you click, linked to your address');
      const { requestSignup } = await import('../../src/subscribers/signup');
      const { consentTextFor } = await import('../../src/web/routes/subscribe');
      const consentText = consentTextFor(config.web.consentText, config.newsletters);
      await requestSignup(runtime, { email: 'consented@example.com', newsletters: ['national'] }, { form: 'signup-page', consentText, clickRecords: ['national'] });
      const consented = await runtime.subscribers.findByEmail('consented@example.com');
      const pending = await runtime.subscribers.pendingSignup(consented?.id as string);
      await runtime.subscribers.confirmSignup(consented?.id as string, pending?.nonce as string, { now: f.clock.now() });
      // A reader from before the opt-in (added by ops): aggregate only.
      const { subscriber: earlier } = await runtime.subscribers.add({ email: 'earlier@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
      await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
      const linkOf = async (address: string) => {
        const message = f.sink.messages.find((m) => m.recipients.includes(address) && /^Message-ID: <national-/m.test(m.raw.toString('latin1')));
        const html = (await f.sink.parse(message as (typeof f.sink.messages)[number])).html || '';
        return (/href="(http:\/\/daybreak\.test\/r\/[^"]+)"/.exec(html)?.[1] as string).replace(/&amp;/g, '&');
      };
      const consentedLink = await linkOf('consented@example.com');
      const earlierLink = await linkOf('earlier@example.com');
      expect(consentedLink).toMatch(new RegExp(`\\?u=${consented?.id}\\.`));
      expect(earlierLink).toMatch(new RegExp(`\\?u=${earlier.id}\\.`));
      for (const [link, ip] of [[consentedLink, '198.51.100.1'], [earlierLink, '198.51.100.2']] as const) {
        expect((await web.inject({ url: pathOf(link), remoteAddress: ip, headers: { 'user-agent': browser } })).statusCode).toBe(302);
      }
      const story = new URL(consentedLink).pathname.split('/')[3] as string;
      expect(await runtime.clicks.readerStories(editionId, consented?.id as string)).toEqual([story]);
      expect(await runtime.clicks.readerStories(editionId, earlier.id)).toEqual([]);
      expect((await runtime.clicks.counts(editionId)).get(story)).toEqual({ human: 2, automated: 0 });
      // A forged reader reference records nothing.
      await web.inject({ url: pathOf(earlierLink.replace(/\?u=.*/, `?u=${earlier.id}.AAAAAAAAAAAAAAAAAAAAAA`)), remoteAddress: '198.51.100.3', headers: { 'user-agent': browser } });
      expect(await runtime.clicks.readerCount(editionId)).toBe(1);
    } finally {
      await web.close();
      await runtime.close();
      runtime.redis.disconnect();
      await closeRuntime(f.runtime);
      await f.sink.close();
    }
  });
});
