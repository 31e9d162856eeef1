import fs from 'node:fs';
import path from 'node:path';
import { parseFeed, parseFeedDate, parseFeedDetailed } from '../../src/articles/feed-parser';

/**
 * One small hand-written feed per real-world pattern that used to lose items (issues 9 and 10),
 * under test/fixtures/feeds/. Each test is named after the rule it guards.
 */

const fixtures = path.resolve(__dirname, '../fixtures/feeds');
const read = (name: string) => fs.readFileSync(path.join(fixtures, name));

describe('dates real feeds write', () => {
  it('reads every loose RFC 822 / ISO form in the fixture, and leaves out only the items whose date is unreadable or missing', async () => {
    const { articles, skipped } = await parseFeedDetailed(read('loose-dates.rss'), 'loose-dates.rss');
    expect(articles.map((a) => [a.title, a.publishedAt.toISOString()])).toEqual([
      ['Full month name, no comma', '2008-06-02T19:11:11.000Z'],
      ['ctime order', '2008-07-21T00:00:00.000Z'],
      ['No seconds, month before day', '2008-05-07T16:30:00.000Z'],
      ['No day name, two-digit year', '2008-06-02T15:11:11.000Z'],
      ['Lower-case names, full day name', '2008-06-02T09:11:11.000Z'],
      ['Upper-case names, military zone', '2008-06-02T11:11:11.000Z'],
      ['ISO without seconds', '2008-06-02T10:11:00.000Z'],
      ['ISO with a space and no zone', '2008-06-02T11:11:11.000Z'],
      ['Japanese zone', '2008-06-02T11:11:11.000Z'],
      ['Australian zone', '2008-06-02T11:11:11.000Z'],
      ['Indian zone', '2008-06-02T11:11:11.000Z'],
      ['UT and a comment', '2008-06-02T11:11:11.000Z'],
      ['GMT with an offset', '2008-06-02T11:11:11.000Z'],
    ]);
    expect(skipped).toEqual([
      {
        index: 13,
        reason: 'unreadable-date',
        title: 'Unreadable date',
        link: 'https://dates.example/14',
        date: 'the day before yesterday',
        message: 'item 14 "Unreadable date" left out: unreadable date "the day before yesterday"',
      },
      { index: 14, reason: 'no-date', title: 'No date at all', link: 'https://dates.example/15', message: 'item 15 "No date at all" left out: no date' },
    ]);
  });

  it.each([
    ['Mon, June 2 2008 11:11:11 PST', '2008-06-02T19:11:11.000Z'],
    ['Mon Jul 21 00:00:00 UTC 2008', '2008-07-21T00:00:00.000Z'],
    ['Wed, May 7 2008 12:30 -0400', '2008-05-07T16:30:00.000Z'],
    ['Thu, 01 Jan 04 19:48:21 GMT', '2004-01-01T19:48:21.000Z'],
    ['Sun, 31 Dec 1999 23:59:59 -0000', '1999-12-31T23:59:59.000Z'],
    ['01 Jan 99 00:00:00 +0000', '1999-01-01T00:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 CDT', '2003-06-10T09:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 MDT', '2003-06-10T10:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 MST', '2003-06-10T11:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 PDT', '2003-06-10T11:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 EDT', '2003-06-10T08:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 CST', '2003-06-10T10:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 UT', '2003-06-10T04:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 CET', '2003-06-10T03:00:00.000Z'],
    ['Tue, 10 Jun 2003 04:00:00 CEST', '2003-06-10T02:00:00.000Z'],
    ['Tuesday, 10 June 2003 04:00:00 BST', '2003-06-10T03:00:00.000Z'],
    ['tue, 10 jun 2003 04:00 gmt', '2003-06-10T04:00:00.000Z'],
    ['10 Jun 2003 04:00:00 A', '2003-06-10T04:00:00.000Z'],
    ['Jun 10, 2003 4:00 PM', '2003-06-10T16:00:00.000Z'],
    ['10-Jun-2003 04:00:00 GMT', '2003-06-10T04:00:00.000Z'],
    ['2003-06-10 04:00 EDT', '2003-06-10T08:00:00.000Z'],
    ['2003-06-10T04:00Z', '2003-06-10T04:00:00.000Z'],
    ['2003-06-10T04:00:00.123456-05:00', '2003-06-10T09:00:00.123Z'],
    ['2003-06-10 04:00:00+02', '2003-06-10T02:00:00.000Z'],
  ])('reads %j', (input, expected) => {
    expect(parseFeedDate(input)?.toISOString()).toBe(expected);
  });

  it.each(['Jun 2008', '10 Jun', '32 Jun 2003', '10 Jun 2003 25:00', '10 Jun 2003 04:00 J', '10 Jun 2003 04:00 Mars', 'Mon, 10 Jun 2003 Jun 04:00', '2003-06-10T04:00:00+25:99x', 'x'.repeat(500), `10 Jun 2003 ${'0'.repeat(200)}`])(
    'refuses %j rather than guess',
    (input) => {
      expect(parseFeedDate(input)).toBeUndefined();
    },
  );
});

describe('Atom 0.3', () => {
  it('reads issued, then created, then modified, and the escaped, base64 and plain-text content modes', async () => {
    const articles = await parseFeed(read('atom-0.3.xml'), 'atom-0.3.xml');
    expect(articles).toEqual([
      {
        id: 'tag:blogger.com,1999:blog-1.post-100',
        title: 'Issued and modified',
        url: 'http://blog.example/2004/05/issued.html',
        summaryHtml: '<p>Escaped <a href="http://blog.example/2004/05/other.html">HTML</a></p>',
        author: 'Ann Author',
        publishedAt: new Date('2004-05-12T01:03:00Z'),
      },
      {
        id: 'tag:blogger.com,1999:blog-1.post-101',
        title: 'Modified only',
        url: 'http://blog.example/2004/05/modified.html',
        summaryHtml: '<p>Base 64 body</p>',
        publishedAt: new Date('2004-05-10T08:00:00Z'),
      },
      {
        id: 'tag:blogger.com,1999:blog-1.post-102',
        title: 'Created only, zone-less issued',
        url: 'http://blog.example/2004/05/created.html',
        summaryHtml: '<p>A plain &lt;summary&gt;</p>',
        publishedAt: new Date('2004-05-09T07:30:00Z'),
      },
    ]);
  });
});

describe('xml:base', () => {
  it('resolves links, enclosure and media images and summary links against the nearest xml:base, nested ones relative to the outer', async () => {
    const articles = await parseFeed(read('xml-base.atom'), 'xml-base.atom');
    expect(articles.map((a) => [a.url, a.imageUrl])).toEqual([
      ['http://shop.example/catalogue/Shoes', 'http://shop.example/catalogue/img/shoes.jpg'],
      ['http://shop.example/catalogue/summer/sandals?colour=red', 'http://shop.example/catalogue/img/sandals.jpg'],
      ['http://boots.example/a/c', undefined],
      ['http://cdn.shop.example/hats', undefined],
    ]);
    expect(articles[1].summaryHtml).toBe('<a href="http://shop.example/catalogue/summer/more.html">More sandals</a>');
  });

  it('an xml:base on the link itself beats the entry one, even when it is fetched from elsewhere', async () => {
    const articles = await parseFeed(read('xml-base.atom'), 'xml-base.atom', { baseUrl: 'https://mirror.example/feed' });
    expect(articles.map((a) => a.url)).toEqual([
      'http://shop.example/catalogue/Shoes',
      'http://shop.example/catalogue/summer/sandals?colour=red',
      'http://boots.example/a/c',
      'http://cdn.shop.example/hats',
    ]);
  });

  it('resolves a relative xml:base against the URL the feed was fetched from; without one the item is reported, not guessed', async () => {
    const fetched = await parseFeed(read('xml-base-relative.atom'), 'rel', { baseUrl: 'https://feeds.example/site/feed.xml' });
    expect(fetched.map((a) => a.url)).toEqual(['https://feeds.example/site/news/story-1.html']);
    const fromFile = await parseFeedDetailed(read('xml-base-relative.atom'), 'rel');
    expect(fromFile.articles).toEqual([]);
    expect(fromFile.skipped.map((s) => [s.reason, s.link])).toEqual([['no-link', 'story-1.html']]);
  });
});

describe('RSS 1.0 rdf:about', () => {
  it('is the item id when there is no guid, while the link stays the link', async () => {
    const [article] = await parseFeed(read('rss-1.0-about.rdf'), 'rss-1.0-about.rdf');
    expect(article).toEqual({
      id: 'http://it.slashdot.example/story/08/06/02/1234567/Linear-Parsing',
      title: 'Linear Parsing Considered Helpful',
      url: 'http://rss.slashdot.example/~r/Slashdot/slashdot/~3/AbCdEf/article.pl',
      summaryHtml: 'Café owners rejoice.',
      author: 'timothy',
      section: 'programming',
      publishedAt: new Date('2008-06-02T11:11:00Z'),
    });
  });
});

describe('links escaped twice', () => {
  it('unescape "&amp;amp;" once more in URLs, and leave correctly escaped ones alone', async () => {
    const articles = await parseFeed(read('double-escaped.rss'), 'double-escaped.rss');
    expect(articles.map((a) => [a.id, a.url, a.imageUrl])).toEqual([
      ['cat-7', 'https://shop.example/list?id=7&category=shoes', 'https://shop.example/img?id=7&size=large'],
      ['https://shop.example/list?id=8&category=hats', 'https://shop.example/list?id=8&category=hats', undefined],
    ]);
  });
});

describe('items left out are reported, not silently dropped', () => {
  it('loadArticles tells onSkipped about each item it leaves out, naming the source, and keeps the rest', async () => {
    const { loadArticles } = await import('../../src/articles/load');
    const { FixedClock } = await import('../../src/core/clock');
    const reported: string[] = [];
    const articles = await loadArticles(
      { kind: 'file', path: 'loose-dates.rss' },
      { clock: new FixedClock('2008-06-03T00:00:00Z'), baseDir: fixtures, publicUrl: 'http://localhost:3000', onSkipped: (item, source) => reported.push(`${source}: ${item.message}`) },
    );
    expect(articles).toHaveLength(13);
    expect(reported).toEqual([
      'file loose-dates.rss: item 14 "Unreadable date" left out: unreadable date "the day before yesterday"',
      'file loose-dates.rss: item 15 "No date at all" left out: no date',
    ]);
  });
});
