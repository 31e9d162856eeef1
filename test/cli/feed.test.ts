import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Runtime } from '../../src/app/runtime';
import { runCli } from '../helpers/cli';
import { newslettersWithFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';

/**
 * `daybreak feed`, through the real binary: what a feed yields, and for a newsletter why each item
 * is or is not in an edition ("why isn't my story in this morning's email?").
 */

const fixtures = path.resolve(__dirname, '../fixtures/feeds');
const daybreak = (args: string[], env: Record<string, string>) => runCli(['feed', ...args], { LOG_LEVEL: 'error', ...env });

const item = (guid: string, title: string, pubDate: string, link = `https://news.example/${guid}`, category = 'Finance') =>
  `<item><title>${title}</title><link>${link}</link><guid isPermaLink="false">${guid}</guid><category>${category}</category><pubDate>${pubDate}</pubDate></item>`;

/** The 2026-11-10 edition (cut-off 06:00 UTC, window from 06:00 the day before), maxArticles 3. */
const editionFeed = `<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><link>https://news.example/</link><description>d</description>
${item('a', 'Fresh A', 'Mon, 09 Nov 2026 20:00:00 GMT')}
${item('b', 'Fresh B', 'Mon, 09 Nov 2026 21:00:00 GMT', undefined, 'Property')}
${item('c', 'Fresh C', 'Mon, 09 Nov 2026 22:00:00 GMT')}
${item('d', 'Fresh D', 'Mon, 09 Nov 2026 23:00:00 GMT')}
${item('sent-1', 'Sent story', 'Tue, 10 Nov 2026 01:00:00 GMT')}
${item('old', 'Too old', 'Sun, 08 Nov 2026 10:00:00 GMT')}
${item('late', 'After cut-off', 'Tue, 10 Nov 2026 07:00:00 GMT')}
${item('b-again', 'Duplicate of B', 'Mon, 09 Nov 2026 20:30:00 GMT', 'https://news.example/b')}
${item('soon', 'Unreadable date', 'soon')}
</channel></rss>`;

describe('daybreak feed', () => {
  let runtime: Runtime;
  let env: Record<string, string>;
  let server: http.Server;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-feed-cli-'));
    const file = path.join(dir, 'desk.xml');
    fs.writeFileSync(file, editionFeed);
    const newsletters = newslettersWithFeed(file, { maxArticles: 3 }).map((n) => (n.id === 'north-east' ? { ...n, source: { file, section: 'Property' } } : n));
    const config = testConfig(uniquePrefix('feed-cli'), { newsletters });
    env = { DAYBREAK_CONFIG: writeConfigFile(config) };
    runtime = testRuntime(config);
    await runtime.redis.sadd(runtime.keys.sentArticles('national'), 'sent-1');
    server = http.createServer((req, res) => {
      if (req.url === '/loose-dates.rss') {
        res.writeHead(200, { 'content-type': 'application/rss+xml' });
        res.end(fs.readFileSync(path.join(fixtures, 'loose-dates.rss')));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await closeRuntime(runtime);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('for a newsletter, says which items the edition picks and why each other one is left out', async () => {
    const run = await daybreak(['national', '--date', '2026-11-10'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain('Feed file ');
    expect(out).toContain('("Desk"): 9 items, 8 read, 1 left out');
    expect(out).toContain('Edition national-2026-11-10: articles published after 2026-11-09T06:00:00Z up to 2026-11-10T06:00:00Z, at most 3: 3 picked');
    expect(out).toContain('[PICKED #1] Fresh D\n    published 2026-11-09T23:00:00Z · section Finance\n    link   https://news.example/d\n    id     d');
    expect(out).toContain('[PICKED #2] Fresh C');
    expect(out).toContain('[PICKED #3] Fresh B');
    expect(out).toContain('[out: over max articles] Fresh A');
    expect(out).toContain('why    over maxArticles: ranked 4, the edition takes 3');
    expect(out).toContain('[out: already sent] Sent story');
    expect(out).toContain('why    already sent in an earlier edition of this newsletter');
    expect(out).toContain('[out: too old] Too old');
    expect(out).toContain('[out: after cutoff] After cut-off');
    expect(out).toContain('why    after the cut-off: published 2026-11-10T07:00:00Z, after 2026-11-10T06:00:00Z; it waits for the next edition');
    expect(out).toContain('[out: duplicate] Duplicate of B');
    expect(out).toContain('why    duplicate: same link as "Fresh B", which is kept');
    expect(out).toContain('[out: unreadable date] Unreadable date');
    expect(out).toContain('why    unreadable date "soon": left out of every edition until the feed fixes it');
  });

  test('--json prints one object per item, in feed order, with picked and reason', async () => {
    const run = await daybreak(['national', '--date', '2026-11-10', '--json'], env);
    expect(run.code).toBe(0);
    const rows = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((r) => [r.title, r.picked, r.reason])).toEqual([
      ['Fresh A', false, 'over-max-articles'],
      ['Fresh B', true, 'picked'],
      ['Fresh C', true, 'picked'],
      ['Fresh D', true, 'picked'],
      ['Sent story', false, 'already-sent'],
      ['Too old', false, 'too-old'],
      ['After cut-off', false, 'after-cutoff'],
      ['Duplicate of B', false, 'duplicate'],
      ['Unreadable date', false, 'unreadable-date'],
    ]);
    expect(rows[3]).toEqual({
      input: 'national',
      feedIndex: 3,
      id: 'd',
      title: 'Fresh D',
      link: 'https://news.example/d',
      author: null,
      section: 'Finance',
      published: '2026-11-09T23:00:00Z',
      image: null,
      picked: true,
      reason: 'picked',
      detail: 'picked: number 1 in the edition',
    });
    expect(rows[8]).toMatchObject({ id: 'soon', published: null, detail: 'unreadable date "soon": left out of every edition until the feed fixes it' });
  });

  test('a section newsletter names the articles of other sections', async () => {
    const rows = (await daybreak(['north-east', '--date', '2026-11-10', '--json'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((r) => r.picked).map((r) => r.title)).toEqual(['Fresh B']);
    expect(rows.find((r) => r.title === 'Fresh A')).toMatchObject({ reason: 'wrong-section', detail: 'wrong section: section "Finance", not this newsletter\'s "Property"' });
    expect(rows.find((r) => r.title === 'Duplicate of B')).toMatchObject({ reason: 'wrong-section' });
  });

  test('a file prints each item normalised, with relative links resolved', async () => {
    const run = await daybreak([path.join(fixtures, 'xml-base.atom')], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('("Catalogue"): 4 items, 4 read');
    expect(run.stdout).toContain('[2.] Sandals\n    published 2008-06-02T10:11:11Z\n    link   http://shop.example/catalogue/summer/sandals?colour=red\n    id     urn:uuid:2\n    image  http://shop.example/catalogue/img/sandals.jpg');
  });

  test('a URL (loopback) prints the same, --json with reason "parsed" or why it was left out', async () => {
    const run = await daybreak([`${base}/loose-dates.rss`, '--json'], env);
    expect(run.code).toBe(0);
    const rows = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(15);
    expect(rows[0]).toMatchObject({ title: 'Full month name, no comma', published: '2008-06-02T19:11:11Z', picked: false, reason: 'parsed' });
    expect(rows.slice(13).map((r) => [r.reason, r.link])).toEqual([
      ['unreadable-date', 'https://dates.example/14'],
      ['no-date', 'https://dates.example/15'],
    ]);
  });

  test('a bad input prints one error line and exits 2, and the other inputs still print', async () => {
    const run = await daybreak(['missing.xml', `${base}/gone.xml`, '/etc/hostname', path.join(fixtures, 'rss-1.0-about.rdf')], env);
    expect(run.code).toBe(2);
    const errors = run.stderr.trim().split('\n');
    expect(errors).toEqual([
      expect.stringMatching(/^daybreak: "missing\.xml" is not a newsletter id \(configured: national, .*\), an http\(s\) URL, or a file that exists$/),
      `daybreak: feed url ${base}/gone.xml: HTTP 404 Not Found from ${base}/gone.xml`,
      expect.stringMatching(/^daybreak: feed file \/etc\/hostname: unrecognised format: neither XML nor JSON/),
    ]);
    expect(run.stdout).toContain('[1.] Linear Parsing Considered Helpful');
    expect(run.stdout).toContain('    id     http://it.slashdot.example/story/08/06/02/1234567/Linear-Parsing');
  });

  test('with --json every input gets its lines on stdout: its items, each naming it, or one line saying why it has none', async () => {
    const good = path.join(fixtures, 'rss-1.0-about.rdf');
    const run = await daybreak(['missing.xml', good, '/etc/hostname', '--json'], env);
    expect(run.code).toBe(2);
    const rows = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows[0]).toEqual({ input: 'missing.xml', error: expect.stringContaining('"missing.xml" is not a newsletter id'), code: 'bad-input' });
    const items = rows.filter((r) => r.input === good);
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((r) => r.reason === 'parsed' && typeof r.feedIndex === 'number')).toBe(true);
    expect(rows[rows.length - 1]).toEqual({ input: '/etc/hostname', error: expect.stringContaining('unrecognised format'), code: 'feed-unreadable' });
    expect(rows).toHaveLength(items.length + 2);
  });

  test("Daybreak's own sample stories, named as a file, print as the newsletter reading them sees them", async () => {
    const run = await daybreak([path.resolve(__dirname, '../../samples/business-news.json')], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Feed sample .*business-news\.json: (\d+) items, \1 read\n/);
    expect(run.stdout).toContain('Tyneside engineering group lands £48m offshore wind contract');
  });

  test('an over-size file is refused with the limit from the config', async () => {
    const big = path.join(dir, 'big.xml');
    fs.writeFileSync(big, `<rss>${' '.repeat(6 * 1024 * 1024)}</rss>`);
    const run = await daybreak([big], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`daybreak: feed file ${big}: ${big} is 6.0 MB, over the limit of 5 MB for a feed. If the feed is genuine, raise "maxBytes" on this source or "feedMaxBytes" in the config\n`);
  });
});
