import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FeedSource } from '../../src/articles/article';
import { describeSource, filterBySection, loadArticles, sampleFileSchema } from '../../src/articles/load';
import { pickArticles } from '../../src/articles/pick';
import { FixedClock } from '../../src/core/clock';
import { feedError } from './feed-error';

const projectRoot = path.resolve(__dirname, '../..');
const now = '2026-11-24T06:00:00.000Z';
const HOUR = 3_600_000;

const rss = (items: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://feed.example/</link><description>d</description>${items}</channel></rss>`;
const item = (slug: string, category: string, date = 'Tue, 24 Nov 2026 05:00:00 GMT') =>
  `<item><title>Story ${slug}</title><link>/news/${slug}</link><guid>${slug}</guid><category>${category}</category><pubDate>${date}</pubDate></item>`;
const feedXml = rss(item('a', 'Finance') + item('b', 'Property') + item('c', 'finance'));


function options(extra: Partial<Parameters<typeof loadArticles>[1]> = {}) {
  return { clock: new FixedClock(now), baseDir: path.join(projectRoot, 'config'), publicUrl: 'http://localhost:3000/', ...extra };
}

describe('describeSource', () => {
  it('names each kind of source, hiding URL credentials', () => {
    expect(describeSource({ kind: 'url', url: 'https://feed.example/rss' })).toBe('url https://feed.example/rss');
    expect(describeSource({ kind: 'url', url: 'https://me:secret@feed.example/rss' })).toBe('url https://***@feed.example/rss');
    expect(describeSource({ kind: 'file', path: 'feeds/x.xml' })).toBe('file feeds/x.xml');
    expect(describeSource({ kind: 'sample', path: '../samples/business-news.json' })).toBe('sample ../samples/business-news.json');
  });
});

describe('loadArticles: file', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-articles-'));
    fs.mkdirSync(path.join(dir, 'feeds'));
    fs.writeFileSync(path.join(dir, 'feeds', 'news.xml'), feedXml);
    fs.writeFileSync(path.join(dir, 'feeds', 'broken.xml'), '<rss version="2.0"><channel><item>');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a feed file resolved against baseDir', async () => {
    const articles = await loadArticles({ kind: 'file', path: 'feeds/news.xml' }, options({ baseDir: dir }));
    expect(articles.map((a) => a.url)).toEqual(['https://feed.example/news/a', 'https://feed.example/news/b', 'https://feed.example/news/c']);
  });

  it('applies the section filter case-insensitively', async () => {
    const articles = await loadArticles({ kind: 'file', path: 'feeds/news.xml', section: 'FINANCE' }, options({ baseDir: dir }));
    expect(articles.map((a) => a.id)).toEqual(['a', 'c']);
  });

  it('reports a missing file as a FeedError naming the source and the full path', async () => {
    const error = await feedError(loadArticles({ kind: 'file', path: 'feeds/nope.xml' }, options({ baseDir: dir })));
    expect(error.source).toBe('file feeds/nope.xml');
    expect(error.message).toBe(`feed file feeds/nope.xml: cannot read ${path.join(dir, 'feeds', 'nope.xml')} (ENOENT)`);
  });

  it('reports a malformed file as a FeedError naming the source', async () => {
    const error = await feedError(loadArticles({ kind: 'file', path: 'feeds/broken.xml' }, options({ baseDir: dir })));
    expect(error.message).toMatch(/^feed file feeds\/broken\.xml: malformed XML/);
  });
});

describe('loadArticles: shipped sample', () => {
  const source: FeedSource = { kind: 'sample', path: '../samples/business-news.json' };
  const sampleFile = path.join(projectRoot, 'samples', 'business-news.json');
  const imagesDir = path.join(projectRoot, 'samples', 'images');

  it('is the file config/daybreak.json points at, and passes its schema', () => {
    const config = JSON.parse(fs.readFileSync(path.join(projectRoot, 'config', 'daybreak.json'), 'utf8'));
    expect(config.newsletters[0].source).toEqual({ sample: '../samples/business-news.json' });
    expect(sampleFileSchema.safeParse(JSON.parse(fs.readFileSync(sampleFile, 'utf8'))).success).toBe(true);
  });

  it('dates articles relative to the injected clock and points images at /static', async () => {
    const articles = await loadArticles(source, options());
    const raw = JSON.parse(fs.readFileSync(sampleFile, 'utf8')) as { articles: { url: string; hoursAgo: number; image: string }[] };
    expect(articles.length).toBeGreaterThanOrEqual(26);
    expect(articles.length).toBeLessThanOrEqual(30);
    articles.forEach((a, i) => {
      expect(a.id).toBe(raw.articles[i].url);
      expect(a.publishedAt.getTime()).toBe(Date.parse(now) - Math.round(raw.articles[i].hoursAgo * HOUR));
      expect(a.imageUrl).toBe(`http://localhost:3000/static/samples/images/${raw.articles[i].image}`);
      expect(a.url).toMatch(/^https:\/\/daybreak\.example\/news\/[a-z0-9-]+$/);
    });
    const clock = new FixedClock('2030-01-01T00:00:00Z');
    const later = await loadArticles(source, options({ clock }));
    expect(later[0].publishedAt.getTime()).toBe(articles[0].publishedAt.getTime() + (Date.parse('2030-01-01T00:00:00Z') - Date.parse(now)));
  });

  it('has the mix a demo needs: ~20 in the last day, some older, 1-2 featured, every section and region', async () => {
    const articles = await loadArticles(source, options());
    const lastDay = articles.filter((a) => Date.parse(now) - a.publishedAt.getTime() <= 24 * HOUR);
    expect(lastDay.length).toBeGreaterThanOrEqual(18);
    expect(lastDay.length).toBeLessThanOrEqual(22);
    expect(articles.length - lastDay.length).toBeGreaterThanOrEqual(4);
    const featured = articles.filter((a) => a.featured);
    expect(featured.length).toBeGreaterThanOrEqual(1);
    expect(featured.length).toBeLessThanOrEqual(2);
    expect(new Set(articles.map((a) => a.section))).toEqual(new Set(['Finance', 'Property', 'Technology', 'Manufacturing', 'People', 'Partner Article']));
    expect(new Set(articles.map((a) => a.region))).toEqual(new Set(['North East', 'North West', 'Yorkshire', 'Midlands', 'London', 'Scotland']));
    expect(articles.every((a) => a.title && a.author && a.summaryHtml)).toBe(true);
    expect(articles.some((a) => /<a href="https:\/\//.test(a.summaryHtml))).toBe(true);
    const oldest = Math.max(...articles.map((a) => Date.parse(now) - a.publishedAt.getTime()));
    expect(oldest).toBeLessThanOrEqual(40 * HOUR);
  });

  it('feeds a full first edition through pickArticles, featured first', async () => {
    const articles = await loadArticles(source, options());
    const picked = pickArticles({ articles, cutoff: new Date(now), alreadySent: new Set(), rules: { maxArticles: 12, lookbackHours: 24 } });
    expect(picked.articles).toHaveLength(12);
    expect(picked.articles[0].featured).toBe(true);
    expect(picked.excluded.outOfWindow).toBe(articles.filter((a) => Date.parse(now) - a.publishedAt.getTime() >= 24 * HOUR).length);
  });

  it('ships small 600x300 SVG illustrations for every image it names', async () => {
    const articles = await loadArticles(source, options());
    const files = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.svg'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(files.length).toBeLessThanOrEqual(8);
    for (const file of files) {
      const svg = fs.readFileSync(path.join(imagesDir, file), 'utf8');
      expect(svg.length).toBeLessThan(1024);
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="600" height="300" viewBox="0 0 600 300">/);
      expect(svg).not.toMatch(/<script|on\w+=|href=|<image|<style/i);
    }
    // Emails name the raster copies (scripts/render-sample-images.ts): one PNG per SVG source.
    const pngs = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.png'));
    expect(pngs.sort()).toEqual(files.map((f) => f.replace(/\.svg$/, '.png')).sort());
    for (const png of pngs) expect(fs.statSync(path.join(imagesDir, png)).size).toBeLessThan(64 * 1024);
    const used = new Set(articles.map((a) => path.basename(a.imageUrl ?? '')));
    for (const name of used) expect(pngs).toContain(name);
  });

  it('filters by section or by region, ignoring case', async () => {
    const property = await loadArticles({ ...source, section: 'property' }, options());
    expect(property.length).toBeGreaterThan(0);
    expect(property.every((a) => a.section === 'Property')).toBe(true);
    const northEast = await loadArticles({ ...source, section: 'NORTH EAST' }, options());
    expect(northEast.length).toBeGreaterThan(3);
    expect(northEast.every((a) => a.region === 'North East')).toBe(true);
    expect(await loadArticles({ ...source, section: 'Wales' }, options())).toEqual([]);
  });

  describe('invalid sample files', () => {
    let dir: string;
    const write = (name: string, content: unknown) => {
      fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
      return { kind: 'sample' as const, path: name };
    };
    const valid = { title: 'T', url: 'https://daybreak.example/news/t', summary: 'S', hoursAgo: 1 };
    beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-sample-'))));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('names the field that is wrong', async () => {
      const error = await feedError(loadArticles(write('bad.json', { articles: [{ ...valid, hoursAgo: -1 }] }), options({ baseDir: dir })));
      expect(error.message).toMatch(/^feed sample bad\.json: invalid sample file: articles\.0\.hoursAgo/);
    });

    it('refuses an image that is not a plain file name (no path traversal)', async () => {
      const error = await feedError(loadArticles(write('img.json', { articles: [{ ...valid, image: '../../etc/passwd' }] }), options({ baseDir: dir })));
      expect(error.message).toMatch(/articles\.0\.image/);
    });

    it('refuses duplicate urls, unknown fields and malformed JSON', async () => {
      const dup = await feedError(loadArticles(write('dup.json', { articles: [valid, valid] }), options({ baseDir: dir })));
      expect(dup.message).toMatch(/duplicate article id\/url/);
      const extra = await feedError(loadArticles(write('extra.json', { articles: [{ ...valid, colour: 'red' }] }), options({ baseDir: dir })));
      expect(extra.message).toMatch(/articles\.0/);
      const broken = await feedError(loadArticles(write('broken.json', '{"articles": ['), options({ baseDir: dir })));
      expect(broken.message).toMatch(/^feed sample broken\.json: malformed JSON/);
    });

    it('sanitises sample summaries like any feed', async () => {
      const articles = await loadArticles(write('xss.json', { articles: [{ ...valid, summary: '<p onclick="x()">Hi<script>bad()</script></p>' }] }), options({ baseDir: dir }));
      expect(articles[0].summaryHtml).toBe('<p>Hi</p>');
    });
  });
});

describe('loadArticles: url (loopback HTTP server)', () => {
  let server: http.Server;
  let base: string;
  // "Привет" in KOI8-R, with no XML declaration: only the HTTP charset can say how to decode it.
  const koi8 = Buffer.concat([
    Buffer.from('<rss version="2.0"><channel><title>T</title><link>https://feed.example/</link><description>d</description><item><title>'),
    Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]),
    Buffer.from('</title><link>https://feed.example/privet</link><pubDate>Tue, 24 Nov 2026 05:00:00 GMT</pubDate></item></channel></rss>'),
  ]);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      switch (req.url) {
        case '/feed.xml':
          res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
          res.end(feedXml);
          return;
        case '/koi8.xml':
          res.writeHead(200, { 'content-type': 'application/rss+xml; charset=KOI8-R' });
          res.end(koi8);
          return;
        case '/moved':
          res.writeHead(301, { location: '/sub/feed.xml' });
          res.end();
          return;
        case '/sub/feed.xml':
          res.writeHead(200, { 'content-type': 'application/atom+xml' });
          res.end(`<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>E</title><link href="entry-1"/><id>e1</id><updated>2026-11-24T05:00:00Z</updated></entry></feed>`);
          return;
        case '/malformed.xml':
          res.writeHead(200, { 'content-type': 'application/rss+xml' });
          res.end('<rss version="2.0"><channel><title>oops</channel>');
          return;
        case '/page.html':
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html><body>Not a feed</body></html>');
          return;
        case '/hang':
          return; // never answers
        case '/trickle':
          res.writeHead(200, { 'content-type': 'application/rss+xml' });
          res.write('<rss version="2.0"><channel>'); // headers and a first chunk, then nothing
          return;
        case '/big.xml':
          res.writeHead(200, { 'content-type': 'application/rss+xml' });
          res.end(rss(item('x', 'Finance').repeat(200)));
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fetches and parses a 200 response, with the section filter', async () => {
    const all = await loadArticles({ kind: 'url', url: `${base}/feed.xml` }, options());
    expect(all.map((a) => a.id)).toEqual(['a', 'b', 'c']);
    const property = await loadArticles({ kind: 'url', url: `${base}/feed.xml`, section: 'property' }, options());
    expect(property.map((a) => a.id)).toEqual(['b']);
  });

  it('decodes with the HTTP charset when the document declares none', async () => {
    const articles = await loadArticles({ kind: 'url', url: `${base}/koi8.xml` }, options());
    expect(articles[0].title).toBe('Привет');
  });

  it('follows redirects and resolves relative links against the final URL', async () => {
    const articles = await loadArticles({ kind: 'url', url: `${base}/moved` }, options());
    expect(articles.map((a) => a.url)).toEqual([`${base}/sub/entry-1`]);
  });

  it('turns a 404 into a FeedError naming the URL and status', async () => {
    const url = `${base}/missing.xml`;
    const error = await feedError(loadArticles({ kind: 'url', url }, options()));
    expect(error.source).toBe(`url ${url}`);
    expect(error.message).toBe(`feed url ${url}: HTTP 404 Not Found from ${url}`);
  });

  it('times out a server that never answers', async () => {
    const started = Date.now();
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/hang`, timeoutMs: 200 }, options()));
    expect(error.message).toBe(`feed url ${base}/hang: timed out after 200 ms fetching ${base}/hang`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('times out a server that stalls in the middle of the body', async () => {
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/trickle`, timeoutMs: 200 }, options()));
    expect(error.message).toMatch(/timed out after 200 ms/);
  });

  it('reports malformed XML and non-feeds from a URL, naming it', async () => {
    const malformed = await feedError(loadArticles({ kind: 'url', url: `${base}/malformed.xml` }, options()));
    expect(malformed.message).toMatch(new RegExp(`^feed url ${base}/malformed\\.xml: malformed XML`));
    const page = await feedError(loadArticles({ kind: 'url', url: `${base}/page.html` }, options()));
    expect(page.message).toMatch(/unrecognised format: the root element is <html>/);
  });

  it('refuses a body larger than maxBytes', async () => {
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/big.xml` }, options({ maxBytes: 1000 })));
    expect(error.message).toMatch(/over the limit of 1000 bytes for a feed/);
  });

  it('reports a refused connection with its cause', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await feedError(loadArticles({ kind: 'url', url: `http://127.0.0.1:${port}/feed` }, options()));
    expect(error.message).toMatch(/could not fetch http:\/\/127\.0\.0\.1:\d+\/feed: fetch failed: .*ECONNREFUSED/);
    expect(error.cause).toBeDefined();
  });

  it('uses the injected fetch, with a timeout signal and feed Accept header', async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const fetchImpl: typeof fetch = async (input, init) => {
      calls.push({ url: String(input), init });
      return new Response(feedXml, { status: 200, headers: { 'content-type': 'application/rss+xml' } });
    };
    const articles = await loadArticles({ kind: 'url', url: 'https://feed.example/rss' }, options({ fetchImpl }));
    expect(articles).toHaveLength(3);
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('https://feed.example/rss');
    expect(calls[0].init?.signal).toBeInstanceOf(AbortSignal);
    expect((calls[0].init?.headers as Record<string, string>).accept).toMatch(/application\/rss\+xml/);
  });

  it('wraps an unexpected error from fetch in a FeedError', async () => {
    const fetchImpl: typeof fetch = async () => {
      throw new TypeError('boom');
    };
    const error = await feedError(loadArticles({ kind: 'url', url: 'https://feed.example/rss' }, options({ fetchImpl })));
    expect(error.message).toBe('feed url https://feed.example/rss: could not fetch https://feed.example/rss: boom');
    expect(error.cause).toBeInstanceOf(TypeError);
  });
});

describe('filterBySection', () => {
  it('matches section or region, trimmed and case-insensitive', () => {
    const base = { title: 't', url: 'https://x.example/', summaryHtml: '', publishedAt: new Date(now) };
    const list = [
      { ...base, id: '1', section: ' Finance ' },
      { ...base, id: '2', region: 'Scotland' },
      { ...base, id: '3', section: 'People', region: 'London' },
      { ...base, id: '4' },
    ];
    expect(filterBySection(list, 'finance').map((a) => a.id)).toEqual(['1']);
    expect(filterBySection(list, ' scotland').map((a) => a.id)).toEqual(['2']);
    expect(filterBySection(list, 'LONDON').map((a) => a.id)).toEqual(['3']);
  });
});
