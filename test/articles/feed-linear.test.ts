import { parseFeedDetailed } from '../../src/articles/feed-parser';

/**
 * Hostile feed text parses in linear time. Each document below is ~2 MB of a pattern that makes a
 * backtracking scan restart at every position: rss-parser's snippet regex took 2.2 s on 120 KB of
 * the first one and grows with the square (about ten minutes at 2 MB). A linear parser needs well
 * under a second on a loaded two-core machine; the bound is 10 s so that only a super-linear path
 * can fail it, never a slow machine.
 */

const SIZE = 2 * 1024 * 1024;
const repeatTo = (unit: string) => unit.repeat(Math.ceil(SIZE / unit.length));
const rss = (description: string, extra = '') =>
  `<rss version="2.0"><channel><title>t</title><link>https://linear.example/</link><item><title>Hostile</title><link>https://linear.example/1</link><pubDate>Mon, 02 Jun 2008 11:11:11 GMT</pubDate>${extra}<description>${description}</description></item></channel></rss>`;

describe('linear-time parsing of hostile feeds', () => {
  it.each([
    ['unclosed block tags in escaped HTML ("a<p" repeated)', rss(repeatTo('a&lt;p'))],
    ['unclosed <img tags (image scan)', rss(repeatTo('&lt;img '))],
    ['one giant <img tag with unterminated quoted attributes', rss(`&lt;img ${repeatTo('src="x ')}`)],
    ['<img tags whose ">" is megabytes away', rss(`${repeatTo('&lt;img&lt;img ')}&gt;`)],
    ['RSS author "email (" with no closing parenthesis', rss('x', `<author>a@b.c (${repeatTo('(x ')}</author>`)],
    ['a giant CDATA section', rss(`<![CDATA[${repeatTo('<p>]]]')}]]>`)],
    ['an entity on every character', rss(repeatTo('&amp;'))],
  ])('%s', async (_name, doc) => {
    const started = process.hrtime.bigint();
    const result = await parseFeedDetailed(doc, 'hostile');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(result.articles).toHaveLength(1);
    expect(seconds).toBeLessThan(10);
  });

  it('a prolog of many DOCTYPEs without a "[" is skipped in one pass, then refused', async () => {
    const started = process.hrtime.bigint();
    await expect(parseFeedDetailed(`${repeatTo('<!DOCTYPE x>')}${rss('x')}`, 'hostile')).rejects.toThrow(/^feed hostile: malformed XML/);
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(10);
  });

  it('a date field of 2 MB is refused as unreadable without being scanned', async () => {
    const doc = rss('x').replace('Mon, 02 Jun 2008 11:11:11 GMT', repeatTo('Mon, '));
    const result = await parseFeedDetailed(doc, 'hostile');
    expect(result.skipped.map((s) => s.reason)).toEqual(['unreadable-date']);
    expect(result.skipped[0].date?.length).toBeLessThanOrEqual(80);
  });
});
