import fs from 'node:fs';
import path from 'node:path';
import type { Article } from '../../src/articles/article';
import { FeedError } from '../../src/articles/errors';
import { parseFeed, parseFeedDate } from '../../src/articles/feed-parser';
import { htmlToPlainText } from '../../src/articles/sanitize';
import { corpus } from '../helpers/corpus';

/**
 * Real-world feeds from rss-parser's own tests (../shared/corpora/feeds/rss-parser): every one is
 * parsed, and item counts, links, dates and ids are checked against rss-parser's recorded output
 * (output/<name>.json). Our normalisation differs from that raw output on purpose, so the golden
 * items are first reduced to what we promise to return:
 *
 * - Items without a link, a title or a date are dropped (see feed-parser.ts): only golden items
 *   that have all three are expected (heraldsun, incomplete-fields and missing-fields: none).
 * - Links are trimmed and resolved against the feed's link (gulp-atom's are relative; itunes-href's
 *   start with a newline), then normalised with the WHATWG URL parser.
 * - Dates: rss-parser cannot read non-English RFC 822 dates ("Seg, 24 Set 2018 ..." in
 *   uolNoticias), we can, so an expected date is the golden isoDate, else our parse of its pubDate.
 *   uolNoticias is also checked against hand-read values, so that path is not self-confirming.
 * - Titles are compared as plain text, except for the two Latin-1 feeds (encoding, uolNoticias),
 *   where the golden file holds U+FFFD for every accented letter: rss-parser was handed the bytes
 *   as UTF-8. We decode them properly; that is checked separately below.
 */

const { dir: corpusDir, present, describe: describeWithCorpus } = corpus('feeds/rss-parser', 'input');

interface GoldenItem {
  title?: string;
  link?: string;
  guid?: string;
  id?: string;
  pubDate?: string;
  isoDate?: string;
}
interface Golden {
  feed: { link?: string; feedUrl?: string; items: GoldenItem[] };
}

const MISDECODED_GOLDEN = new Set(['encoding', 'uolNoticias']);

function inputs(): string[] {
  return present ? fs.readdirSync(path.join(corpusDir, 'input')).sort() : [];
}

function golden(name: string): Golden | undefined {
  const file = path.join(corpusDir, 'output', `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Golden) : undefined;
}

function resolve(link: string, base: string | undefined): string | undefined {
  try {
    const url = base ? new URL(link.trim(), base) : new URL(link.trim());
    return /^https?:$/.test(url.protocol) ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** Golden items reduced to what parseFeed promises to return, with the values it should return. */
function expectedItems(g: Golden) {
  const base = [g.feed.link, g.feed.feedUrl].find((u) => u && resolve(u, undefined));
  return g.feed.items.flatMap((item) => {
    const url = item.link ? resolve(item.link, base) : undefined;
    const date = item.isoDate ? new Date(item.isoDate) : item.pubDate ? parseFeedDate(item.pubDate) : undefined;
    const title = item.title ? htmlToPlainText(item.title) : '';
    if (!url || !date || !title) return [];
    return [{ url, date: date.toISOString(), id: (item.guid ?? item.id ?? url).trim(), title }];
  });
}

/** Invariants every parsed article must meet, whatever the feed. */
function checkInvariants(articles: Article[]): void {
  for (const a of articles) {
    expect(a.url).toMatch(/^https?:\/\//);
    expect(a.title.trim()).toBe(a.title);
    expect(a.title.length).toBeGreaterThan(0);
    expect(a.id.length).toBeGreaterThan(0);
    expect(Number.isNaN(a.publishedAt.getTime())).toBe(false);
    if (a.imageUrl) expect(a.imageUrl).toMatch(/^https?:\/\//);
    expect(a.summaryHtml).not.toMatch(/<\s*(script|iframe|img|style|form|object|embed)\b|\son\w+\s*=|javascript:/i);
  }
}

const totals = { feeds: 0, goldenItems: 0, expected: 0, matched: 0 };

describeWithCorpus('feed corpus (rss-parser test feeds)', () => {
  const cases = inputs()
    .filter((f) => f !== 'unrecognized.rss')
    .map((file) => [file, path.parse(file).name] as const);

  it('has the corpus described in the README', () => {
    expect(cases.length).toBe(26);
    expect(cases.filter(([, name]) => golden(name)).length).toBe(25);
  });

  it.each(cases)('%s', async (file, name) => {
    const articles = await parseFeed(fs.readFileSync(path.join(corpusDir, 'input', file)), file);
    checkInvariants(articles);
    const g = golden(name);
    if (!g) {
      // No recorded output (itunes-missing-image): the invariants above are the check.
      expect(articles.length).toBeGreaterThan(0);
      return;
    }
    const expected = expectedItems(g);
    expect(articles.map((a) => a.url)).toEqual(expected.map((e) => e.url));
    expect(articles.map((a) => a.publishedAt.toISOString())).toEqual(expected.map((e) => e.date));
    expect(articles.map((a) => a.id)).toEqual(expected.map((e) => e.id));
    if (!MISDECODED_GOLDEN.has(name)) expect(articles.map((a) => a.title)).toEqual(expected.map((e) => e.title));
    totals.feeds++;
    totals.goldenItems += g.feed.items.length;
    totals.expected += expected.length;
    totals.matched += articles.length;
  });

  it('decodes the Latin-1 feeds properly (declared, and undeclared)', async () => {
    const jn = await parseFeed(fs.readFileSync(path.join(corpusDir, 'input', 'encoding.rss')), 'encoding.rss');
    expect(jn[0].title).toBe('Mãe de utente é a nova presidente da Raríssimas');
    expect(jn.every((a) => !a.title.includes('\uFFFD') && !a.summaryHtml.includes('\uFFFD'))).toBe(true);
    const uol = await parseFeed(fs.readFileSync(path.join(corpusDir, 'input', 'uolNoticias.rss')), 'uolNoticias.rss');
    expect(uol).toHaveLength(15);
    expect(uol[0].title).toBe('Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno');
    expect(uol[0].publishedAt.toISOString()).toBe('2018-09-24T22:42:40.000Z'); // Seg, 24 Set 2018 19:42:40 -0300
    expect(uol.every((a) => !a.title.includes('\uFFFD'))).toBe(true);
  });

  it('finds the images real feeds carry', async () => {
    const read = (f: string) => parseFeed(fs.readFileSync(path.join(corpusDir, 'input', f)), f);
    // The Guardian: several media:content sizes; the widest wins.
    expect((await read('guardian.rss'))[0].imageUrl).toMatch(/^https:\/\/i\.guim\.co\.uk\/.*[?&]w=460/);
    // YouTube: media:group/media:thumbnail.
    expect((await read('atom-customfields.atom'))[0].imageUrl).toBe('https://i1.ytimg.com/vi/lR-w1h5ONOY/hqdefault.jpg');
    // Feedburner: tracking pixels are not images.
    expect((await read('encoding.rss')).some((a) => a.imageUrl?.includes('feedburner'))).toBe(false);
  });

  it('refuses unrecognized.rss (an HTML "Document Moved" page) with a FeedError', async () => {
    const body = fs.readFileSync(path.join(corpusDir, 'input', 'unrecognized.rss'));
    await expect(parseFeed(body, 'unrecognized.rss')).rejects.toThrow(FeedError);
    await expect(parseFeed(body, 'unrecognized.rss')).rejects.toMatchObject({
      source: 'unrecognized.rss',
      message: expect.stringMatching(/unrecognised format: the root element is <head>.*HTML page/),
    });
  });

  afterAll(() => {
    if (totals.feeds) {
      console.log(
        `[feed-corpus] ${totals.feeds} feeds with recorded output: ${totals.matched}/${totals.expected} expected items matched ` +
          `(${totals.goldenItems} items recorded by rss-parser; items without link/title/date are dropped by design)`,
      );
    }
  });
});
