import fs from 'node:fs';
import path from 'node:path';
import type { Article } from '../../src/articles/article';
import { FeedError } from '../../src/articles/errors';
import { parseFeedDetailed } from '../../src/articles/feed-parser';
import { corpus } from '../helpers/corpus';
import { prng } from '../helpers/prng';

/**
 * Seeded fuzzing of the feed parser: a few hundred feeds mutated from real ones (the rss-parser
 * corpus) and our fixtures: truncations, random bytes, huge attributes and prologs, deep nesting,
 * wrong encodings, entity bombs, giant single lines. Each must give a clean result or a clean
 * FeedError: no other exception, no hang (a super-linear path would blow jest's timeout on the
 * megabyte-sized cases). The PRNG is seeded, so a failure names a case that repeats.
 */

const SEED = 0x5eed_f33d;
const CASES = 300;
/** Corpus documents are cut to this before mutating, so the run stays at a few seconds. */
const MAX_BASE_BYTES = 128 * 1024;

// A missing corpus fails under CI=true and is reported as a skip otherwise; the fixtures are fuzzed either way.
const { dir: corpusRoot, present: corpusPresent } = corpus('feeds/rss-parser', 'input');
const corpusDir = path.join(corpusRoot, 'input');
const fixturesDir = path.resolve(__dirname, '../fixtures/feeds');


const bases: { name: string; bytes: Buffer }[] = [
  ...(corpusPresent ? fs.readdirSync(corpusDir).sort().map((f) => ({ name: `corpus/${f}`, bytes: fs.readFileSync(path.join(corpusDir, f)) })) : []),
  ...fs.readdirSync(fixturesDir).sort().map((f) => ({ name: `fixtures/${f}`, bytes: fs.readFileSync(path.join(fixturesDir, f)) })),
  { name: 'json-feed', bytes: Buffer.from(JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', title: 'J', items: [{ id: '1', url: 'https://j.example/1', title: 'One', date_published: '2026-11-24T05:00:00Z', content_html: '<p>x</p>' }] })) },
].map((b) => ({ ...b, bytes: b.bytes.subarray(0, MAX_BASE_BYTES) }));

type Mutation = (doc: Buffer, rand: () => number) => Buffer;
const int = (rand: () => number, n: number) => Math.floor(rand() * n);
const text = (doc: Buffer) => doc.toString('utf8');
const insertAt = (doc: Buffer, at: number, what: string | Buffer) => Buffer.concat([doc.subarray(0, at), Buffer.isBuffer(what) ? what : Buffer.from(what), doc.subarray(at)]);
/** After the first start tag of an item/entry (or the root), where an attribute or child fits. */
const afterTag = (doc: Buffer, name: RegExp) => {
  const m = name.exec(text(doc));
  return m ? Buffer.byteLength(text(doc).slice(0, m.index + m[0].length)) : 0;
};
const randomBytes = (rand: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => int(rand, 256)));

const mutations: Record<string, Mutation> = {
  truncate: (doc, rand) => doc.subarray(0, int(rand, doc.length)),
  randomBytes: (doc, rand) => {
    const at = int(rand, doc.length);
    return Buffer.concat([doc.subarray(0, at), randomBytes(rand, 1 + int(rand, 64)), doc.subarray(at + int(rand, 64))]);
  },
  pureNoise: (_doc, rand) => randomBytes(rand, 1 + int(rand, 4096)),
  flipMarkup: (doc, rand) => {
    const out = Buffer.from(doc);
    for (let k = 0; k < 20; k++) out[int(rand, out.length)] = '<>&"\'/;'.charCodeAt(int(rand, 7));
    return out;
  },
  hugeAttribute: (doc, rand) => insertAt(doc, Math.max(0, afterTag(doc, /<(item|entry|rss|feed|rdf:RDF)\b/) ), ` data-x="${'a'.repeat(256 * 1024 + int(rand, 1024))}"`),
  manyAttributes: (doc) => insertAt(doc, afterTag(doc, /<(item|entry|rss|feed|rdf:RDF)\b/), Array.from({ length: 20_000 }, (_, i) => ` a${i}="v"`).join('')),
  hugeProlog: (doc, rand) => Buffer.concat([Buffer.from(`<!--${'-x'.repeat(200_000 + int(rand, 1000))}-->\n`), doc]),
  hugeDoctype: (doc) => Buffer.concat([Buffer.from(`<!DOCTYPE rss [${'<!ELEMENT x ANY>'.repeat(20_000)}]>`), doc]),
  deepNesting: (doc, rand) => insertAt(doc, afterTag(doc, /<(item|entry)\b[^>]*>/), `${'<d>'.repeat(1000 + int(rand, 100_000))}x`),
  deepButAllowed: (doc) => insertAt(doc, afterTag(doc, /<(description|summary|content)\b[^>]*>/), `${'<b>'.repeat(200)}deep${'</b>'.repeat(200)}`),
  declaredEncodingLies: (doc, rand) => {
    const label = ['utf-16', 'x-klingon', 'iso-8859-1', 'shift_jis', 'utf-32', ''][int(rand, 6)];
    return Buffer.from(text(doc).replace(/^(\s*<\?xml[^>]*?)encoding="[^"]*"/, `$1encoding="${label}"`).replace(/^(?!\s*<\?xml)/, `<?xml version="1.0" encoding="${label}"?>`));
  },
  wrongBom: (doc, rand) => Buffer.concat([[Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff]), Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf])][int(rand, 3)], doc]),
  invalidUtf8: (doc, rand) => insertAt(doc, int(rand, doc.length), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc])),
  billionLaughs: (doc) => {
    const entities = ['<!ENTITY lol "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`)].join('');
    const body = text(doc).replace(/^\s*<\?xml[^>]*\?>/, '');
    return Buffer.from(`<?xml version="1.0"?><!DOCTYPE rss [${entities}]>${body.replace(/<title>/, '<title>&lol9;')}`);
  },
  externalEntity: (doc) => {
    const body = text(doc).replace(/^\s*<\?xml[^>]*\?>/, '');
    return Buffer.from(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${body.replace(/<title>/, '<title>&xxe;')}`);
  },
  giantLine: (doc, rand) => Buffer.from(text(doc).replace(/\s*\n\s*/g, ' ').replace(/<title>/, `<title>${'word '.repeat(100_000 + int(rand, 1000))}`)),
  hostileHtml: (doc, rand) =>
    insertAt(doc, afterTag(doc, /<(description|summary|content)\b[^>]*>/), ['&lt;img'.repeat(60_000), 'a&lt;p'.repeat(60_000), `&lt;img src="${'x'.repeat(300_000)}`, '&lt;a href=&quot;'.repeat(30_000)][int(rand, 4)]),
  hostileDate: (doc, rand) => Buffer.from(text(doc).replace(/<(pubDate|dc:date|published|updated)>[^<]*</g, `<$1>${['Mon, '.repeat(5_000), '1'.repeat(20_000), `2008-06-02T${'1'.repeat(20_000)}`, ' '.repeat(20_000)][int(rand, 4)]}<`)),
  duplicateChunk: (doc, rand) => {
    const at = int(rand, doc.length);
    return insertAt(doc, at, doc.subarray(at, at + int(rand, 2048)));
  },
  deepJson: (_doc, rand) => Buffer.from(`{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[${'['.repeat(10_000 + int(rand, 100_000))}`),
};

function checkArticle(a: Article): void {
  expect(a.url).toMatch(/^https?:\/\//);
  expect(a.title.length).toBeGreaterThan(0);
  expect(a.title.trim()).toBe(a.title);
  expect(a.id.length).toBeGreaterThan(0);
  expect(Number.isNaN(a.publishedAt.getTime())).toBe(false);
  if (a.imageUrl) expect(a.imageUrl).toMatch(/^https?:\/\//);
  expect(a.summaryHtml).not.toMatch(/<\s*(script|iframe|style|form|object|embed)\b|\son\w+\s*=|javascript:/i);
  expect(a.title).not.toContain('root:x:0:0');
}

describe('feed parser fuzzing (seeded)', () => {
  it(`gives a clean result or a clean FeedError for ${CASES} mutated feeds`, async () => {
    const rand = prng(SEED);
    const names = Object.keys(mutations);
    const outcomes = { parsed: 0, refused: 0, articles: 0 };
    const refusedBy = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const base = bases[int(rand, bases.length)];
      // Every mutation is used at least once, in order, then at random; some cases stack two.
      const first = names[i < names.length ? i : int(rand, names.length)];
      const chosen = rand() < 0.2 ? [first, names[int(rand, names.length)]] : [first];
      let doc = base.bytes;
      for (const m of chosen) doc = mutations[m](doc, rand);
      const label = `case ${i} (${base.name}, ${chosen.join('+')}, ${doc.length} bytes)`;
      try {
        const result = await parseFeedDetailed(doc, label);
        outcomes.parsed++;
        outcomes.articles += result.articles.length;
        for (const a of result.articles) checkArticle(a);
        for (const s of result.skipped) expect(s.message.length).toBeLessThan(1000);
      } catch (error) {
        if (!(error instanceof FeedError)) throw new Error(`${label}: threw ${(error as Error)?.stack ?? String(error)}`);
        expect(error.message.startsWith(`feed ${label}: `)).toBe(true);
        expect(error.message).not.toMatch(/\n/);
        expect(error.message.length).toBeLessThan(label.length + 600);
        expect(error.message).not.toContain('root:x:0:0');
        outcomes.refused++;
        const why = error.message.slice(label.length + 7).replace(/[:(].*$/, '').trim();
        refusedBy.set(why, (refusedBy.get(why) ?? 0) + 1);
      }
    }
    expect(outcomes.parsed + outcomes.refused).toBe(CASES);
    // The mutations must exercise both paths, or the fuzzer is not testing much.
    expect(outcomes.parsed).toBeGreaterThan(CASES / 10);
    expect(outcomes.refused).toBeGreaterThan(CASES / 10);
    console.log(`[feeds.fuzz] seed ${SEED.toString(16)}: ${CASES} cases from ${bases.length} feeds: ${outcomes.parsed} parsed (${outcomes.articles} articles), ${outcomes.refused} refused: ${[...refusedBy].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }, 120_000);

  it('never expands an entity bomb: billion laughs is refused as an undeclared entity', async () => {
    const bomb = mutations.billionLaughs(fs.readFileSync(path.join(fixturesDir, 'double-escaped.rss')), prng(1));
    await expect(parseFeedDetailed(bomb, 'bomb')).rejects.toThrow(/^feed bomb: malformed XML: Invalid character entity/);
  });

  it('refuses nesting deeper than 256 elements cleanly, and accepts 200 levels', async () => {
    const doc = fs.readFileSync(path.join(fixturesDir, 'double-escaped.rss'));
    await expect(parseFeedDetailed(mutations.deepNesting(doc, prng(2)), 'deep')).rejects.toThrow(/^feed deep: malformed XML: elements nested more than 256 deep/);
    const ok = await parseFeedDetailed(mutations.deepButAllowed(doc, prng(3)), 'ok');
    expect(ok.articles.length).toBe(2);
  });
});
