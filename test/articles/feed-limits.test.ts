import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { formatBytes, loadArticles, loadFeed } from '../../src/articles/load';
import { loadConfig } from '../../src/config/load';
import { FixedClock } from '../../src/core/clock';
import { feedError } from './feed-error';

/** Feeds are size-limited wherever they come from, and refused before they are read whole (issue 10). */

const rssOf = (items: number) =>
  `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://limits.example/</link><description>d</description>${Array.from(
    { length: items },
    (_, i) => `<item><title>Story ${i}</title><link>https://limits.example/${i}</link><pubDate>Tue, 24 Nov 2026 05:00:00 GMT</pubDate></item>`,
  ).join('')}</channel></rss>`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-feed-limits-'));
const options = (extra: Partial<Parameters<typeof loadArticles>[1]> = {}) => ({ clock: new FixedClock('2026-11-24T06:00:00Z'), baseDir: dir, publicUrl: 'http://localhost:3000', ...extra });
const HINT = 'If the feed is genuine, raise "maxBytes" on this source or "feedMaxBytes" in the config';

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('feed size limit: files and samples', () => {
  it('refuses a file over the limit from its size alone, naming the source, the size and the limit (a 3 GB sparse file is never read)', async () => {
    const huge = path.join(dir, 'huge.xml');
    fs.writeFileSync(huge, '<rss>');
    fs.truncateSync(huge, 3 * 1024 * 1024 * 1024);
    const error = await feedError(loadArticles({ kind: 'file', path: 'huge.xml' }, options()));
    expect(error.source).toBe('file huge.xml');
    expect(error.message).toBe(`feed file huge.xml: ${huge} is 3072 MB, over the limit of 5 MB for a feed. ${HINT}`);
  });

  it('uses the source maxBytes before the caller default, and accepts a feed of exactly the limit', async () => {
    const body = rssOf(3);
    fs.writeFileSync(path.join(dir, 'small.xml'), body);
    const size = Buffer.byteLength(body);
    expect(await loadArticles({ kind: 'file', path: 'small.xml', maxBytes: size }, options({ maxBytes: 1 }))).toHaveLength(3);
    const error = await feedError(loadArticles({ kind: 'file', path: 'small.xml', maxBytes: size - 1 }, options()));
    expect(error.message).toContain(`is ${formatBytes(size)}, over the limit of ${formatBytes(size - 1)} for a feed`);
    expect((await feedError(loadArticles({ kind: 'file', path: 'small.xml' }, options({ maxBytes: 100 })))).message).toContain('over the limit of 100 bytes');
  });

  it('refuses a shipped sample over the limit the same way', async () => {
    fs.writeFileSync(path.join(dir, 'sample.json'), JSON.stringify({ articles: [] }).padEnd(5000, ' '));
    const error = await feedError(loadArticles({ kind: 'sample', path: 'sample.json', maxBytes: 2048 }, options()));
    expect(error.message).toMatch(/^feed sample sample\.json: .*sample\.json is 5000 bytes, over the limit of 2048 bytes for a feed\./);
  });

  it('names a folder given as a feed file', async () => {
    const error = await feedError(loadArticles({ kind: 'file', path: '.' }, options()));
    expect(error.message).toBe(`feed file .: ${dir} is a folder, not a feed file`);
  });
});

describe('feed size limit: HTTP', () => {
  let server: http.Server;
  let base: string;
  let streamedBytes = 0;
  let streamClosed: Promise<void>;

  beforeAll(async () => {
    let closed: () => void = () => undefined;
    streamClosed = new Promise((resolve) => (closed = resolve));
    server = http.createServer((req, res) => {
      if (req.url === '/declared') {
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-length': String(50 * 1024 * 1024) });
        res.write('<rss>');
        return; // never sends the rest: the declared length alone must refuse it
      }
      if (req.url === '/endless') {
        // Chunked, no Content-Length: up to 64 MB, stopping as soon as the client hangs up.
        res.writeHead(200, { 'content-type': 'application/rss+xml' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        const pump = () => {
          while (streamedBytes < 64 * 1024 * 1024 && !res.destroyed) {
            streamedBytes += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', closed);
        pump();
        return;
      }
      if (req.url === '/gzip-bomb') {
        // 20 MB of spaces compress to ~20 KB: the limit applies to what is decoded.
        const body = zlib.gzipSync(Buffer.concat([Buffer.from('<rss version="2.0"><channel>'), Buffer.alloc(20 * 1024 * 1024, ' '), Buffer.from('</channel></rss>')]));
        res.writeHead(200, { 'content-type': 'application/rss+xml', 'content-encoding': 'gzip', 'content-length': String(body.length) });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/rss+xml' });
      res.end(rssOf(2));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses a declared Content-Length over the limit without reading the body', async () => {
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/declared` }, options()));
    expect(error.message).toBe(`feed url ${base}/declared: the response from ${base}/declared (Content-Length) is 50 MB, over the limit of 5 MB for a feed. ${HINT}`);
  });

  it('stops reading a body with no Content-Length at the limit and hangs up', async () => {
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/endless`, maxBytes: 256 * 1024 }, options()));
    expect(error.message).toBe(`feed url ${base}/endless: the response from ${base}/endless is over the limit of 256 KB for a feed (reading stopped there). ${HINT}`);
    await streamClosed;
    // The server was cut off long before its 64 MB (socket buffers hold a few MB at most).
    expect(streamedBytes).toBeLessThan(32 * 1024 * 1024);
  });

  it('counts decompressed bytes, so a gzip bomb stops at the limit', async () => {
    const error = await feedError(loadArticles({ kind: 'url', url: `${base}/gzip-bomb` }, options()));
    expect(error.message).toContain('is over the limit of 5 MB for a feed (reading stopped there)');
  });

  it('reads a feed within the limit, and loadFeed returns it with nothing left out', async () => {
    const feed = await loadFeed({ kind: 'url', url: `${base}/feed.xml` }, options());
    expect(feed).toMatchObject({ source: `url ${base}/feed.xml`, title: 'T', skipped: [] });
    expect(feed.articles).toHaveLength(2);
  });
});

describe('feed size limit: configuration', () => {
  const base = { secret: 'test-secret-0123456789abcdef' };

  it('defaults feedMaxBytes to 5 MB and gives every source the limit, its own maxBytes first', () => {
    const config = loadConfig({ env: {}, overrides: base });
    expect(config.feedMaxBytes).toBe(5 * 1024 * 1024);
    expect(config.newsletters.every((n) => n.source.maxBytes === 5 * 1024 * 1024)).toBe(true);
    const newsletters = config.newsletters.map((n, i) => ({ ...n, source: i === 0 ? { file: 'x.xml', maxBytes: 2048 } : { sample: 's.json' } }));
    const custom = loadConfig({ env: {}, overrides: { ...base, feedMaxBytes: 1024 * 1024, newsletters } });
    expect(custom.newsletters[0].source).toMatchObject({ kind: 'file', path: 'x.xml', maxBytes: 2048 });
    expect(custom.newsletters[1].source.maxBytes).toBe(1024 * 1024);
  });

  it('refuses a limit below 1 KB, naming the field', () => {
    expect(() => loadConfig({ env: {}, overrides: { ...base, feedMaxBytes: 10 } })).toThrow(/feedMaxBytes: .*1024/);
  });
});
