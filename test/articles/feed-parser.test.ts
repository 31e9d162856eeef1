import { parseFeed, parseFeedDate } from '../../src/articles/feed-parser';
import { feedError } from './feed-error';


const rss2 = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Regional Business</title>
  <link>https://news.example/</link>
  <description>Test</description>
  <item>
    <title>Fish &amp;amp; chips firm &lt;b&gt;expands&lt;/b&gt;  </title>
    <link> https://news.example/fish </link>
    <guid isPermaLink="false">news-1</guid>
    <description>&lt;p onclick="x()"&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full body <img src="https://cdn.example/body.jpg"></p>]]></content:encoded>
    <dc:creator>Jo Bloggs</dc:creator>
    <author>ignored@example.com (Not This One)</author>
    <category>Featured</category>
    <category>Finance</category>
    <pubDate>Tue, 24 Nov 2026 05:30:00 +0000</pubDate>
    <enclosure url="https://cdn.example/lead.jpg" type="image/jpeg" length="1"/>
    <media:content url="https://cdn.example/media.jpg" medium="image" width="600"/>
  </item>
  <item>
    <title>Relative link, permalink-less guid, author email</title>
    <link>/news/relative</link>
    <guid>https://news.example/guid-url</guid>
    <author>desk@news.example (News Desk)</author>
    <description></description>
    <content:encoded><![CDATA[<p>Only full content <img src="https://feeds.example/pixel" width="1" height="1"><img src="/img/real.png"></p>]]></content:encoded>
    <pubDate>Mon, 23 Nov 2026 22:00:00 GMT</pubDate>
  </item>
  <item>
    <title>No link: the guid is a permalink</title>
    <guid>https://news.example/from-guid</guid>
    <pubDate>Mon, 23 Nov 2026 21:00:00 GMT</pubDate>
    <media:thumbnail url="https://cdn.example/thumb.jpg"/>
  </item>
  <item>
    <title>No link and the guid is not a permalink: dropped</title>
    <guid isPermaLink="false">https://news.example/not-a-permalink</guid>
    <pubDate>Mon, 23 Nov 2026 21:00:00 GMT</pubDate>
  </item>
  <item>
    <title>No date: dropped</title>
    <link>https://news.example/undated</link>
  </item>
  <item>
    <title>Unparseable date: dropped</title>
    <link>https://news.example/bad-date</link>
    <pubDate>sometime last week</pubDate>
  </item>
  <item>
    <title>   </title>
    <link>https://news.example/untitled</link>
    <pubDate>Mon, 23 Nov 2026 21:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Not a web link: dropped</title>
    <link>ftp://news.example/file</link>
    <pubDate>Mon, 23 Nov 2026 21:00:00 GMT</pubDate>
  </item>
  <item>
    <title>dc:date instead of pubDate</title>
    <link>https://news.example/dc-date</link>
    <dc:date>2026-11-23T20:15:00+01:00</dc:date>
    <category>pinned</category>
  </item>
</channel>
</rss>`;

describe('parseFeed: RSS 2.0', () => {
  it('normalises a full item', async () => {
    const [first] = await parseFeed(rss2, 'test');
    expect(first).toEqual({
      id: 'news-1',
      title: 'Fish & chips firm expands',
      url: 'https://news.example/fish',
      summaryHtml: '<p>Short <b>summary</b></p>',
      author: 'Jo Bloggs',
      section: 'Finance',
      publishedAt: new Date('2026-11-24T05:30:00.000Z'),
      imageUrl: 'https://cdn.example/lead.jpg',
      featured: true,
    });
  });

  it('drops items with no usable link, title or date, and keeps the rest in feed order', async () => {
    const articles = await parseFeed(rss2, 'test');
    expect(articles.map((a) => a.url)).toEqual([
      'https://news.example/fish',
      'https://news.example/news/relative',
      'https://news.example/from-guid',
      'https://news.example/dc-date',
    ]);
  });

  it('resolves relative links, uses full content when the summary is empty, skips tracking pixels', async () => {
    const second = (await parseFeed(rss2, 'test'))[1];
    expect(second.id).toBe('https://news.example/guid-url');
    expect(second.author).toBe('News Desk');
    expect(second.summaryHtml).toBe('<p>Only full content </p>');
    expect(second.imageUrl).toBe('https://news.example/img/real.png');
    expect(second.section).toBeUndefined();
    expect(second.featured).toBeUndefined();
  });

  it('uses a permalink guid as the link, media:thumbnail as the image, dc:date as the date', async () => {
    const articles = await parseFeed(rss2, 'test');
    expect(articles[2]).toMatchObject({ id: 'https://news.example/from-guid', url: 'https://news.example/from-guid', imageUrl: 'https://cdn.example/thumb.jpg', summaryHtml: '' });
    expect(articles[3].publishedAt.toISOString()).toBe('2026-11-23T19:15:00.000Z');
    expect(articles[3].featured).toBe(true);
    expect(articles[3].section).toBeUndefined(); // "pinned" is a marker, not a section
  });

  it('prefers media:content over the first content image when there is no image enclosure', async () => {
    const xml = rss2.replace(/<enclosure[^>]*\/>/, '');
    expect((await parseFeed(xml, 'test'))[0].imageUrl).toBe('https://cdn.example/media.jpg');
  });

  it('does not accept dates only V8 would guess at', async () => {
    const xml = rss2.replace('<pubDate>Tue, 24 Nov 2026 05:30:00 +0000</pubDate>', '<pubDate>5</pubDate>');
    expect((await parseFeed(xml, 'test')).map((a) => a.id)).not.toContain('news-1');
  });

  it('parses a <rss> without version as RSS 2.0', async () => {
    const articles = await parseFeed(rss2.replace('<rss version="2.0"', '<rss'), 'test');
    expect(articles).toHaveLength(4);
  });
});

describe('parseFeed: RSS 0.91 and RSS 1.0', () => {
  it('parses RSS 0.91', async () => {
    const xml = `<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>http://old.example/</link><description>x</description>
      <item><title>Old-style item</title><link>http://old.example/1</link><description>First &amp; only</description><pubDate>Sun, 22 Nov 2026 09:00:00 GMT</pubDate></item>
    </channel></rss>`;
    expect(await parseFeed(xml, 'test')).toEqual([
      { id: 'http://old.example/1', title: 'Old-style item', url: 'http://old.example/1', summaryHtml: 'First &amp; only', publishedAt: new Date('2026-11-22T09:00:00Z') },
    ]);
  });

  it('parses RSS 0.91 with the Netscape DOCTYPE', async () => {
    const xml = `<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>N</title><link>http://n.example/</link><description>d</description><language>en-gb</language>
<item><title>Netscape era</title><link>http://n.example/1</link><pubDate>Sun, 22 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>`;
    expect((await parseFeed(Buffer.from(xml, 'latin1'), 'test')).map((a) => a.url)).toEqual(['http://n.example/1']);
  });

  it('parses RSS 1.0 (RDF) with dc:date, dc:creator and dc:subject', async () => {
    const xml = `<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="https://rdf.example/"><title>RDF</title><link>https://rdf.example/</link><description>d</description></channel>
      <item rdf:about="https://rdf.example/a"><title>RDF item</title><link>https://rdf.example/a</link><description>Desc</description>
        <dc:creator>Ann Author</dc:creator><dc:subject>Technology</dc:subject><dc:date>2026-11-23T10:00:00Z</dc:date></item>
    </rdf:RDF>`;
    expect(await parseFeed(xml, 'test')).toEqual([
      {
        id: 'https://rdf.example/a',
        title: 'RDF item',
        url: 'https://rdf.example/a',
        summaryHtml: 'Desc',
        author: 'Ann Author',
        section: 'Technology',
        publishedAt: new Date('2026-11-23T10:00:00Z'),
      },
    ]);
  });
});

describe('parseFeed: Atom', () => {
  const atom = `<?xml version="1.0" encoding="utf-8"?>
  <feed xmlns="http://www.w3.org/2005/Atom">
    <title>Atom</title>
    <link rel="self" href="https://atom.example/feed.atom"/>
    <link rel="alternate" href="https://atom.example/"/>
    <id>urn:feed</id><updated>2026-11-24T00:00:00Z</updated>
    <entry>
      <title type="html">Tees &amp;amp; Wear &lt;em&gt;news&lt;/em&gt;</title>
      <link rel="enclosure" type="image/png" href="https://atom.example/pic.png"/>
      <link rel="alternate" type="text/html" href="/posts/1"/>
      <id>urn:uuid:1</id>
      <published>2026-11-23T08:00:00+00:00</published>
      <updated>2026-11-23T09:00:00+00:00</updated>
      <summary>The short one</summary>
      <content type="html">&lt;p&gt;The long one&lt;/p&gt;</content>
      <author><name>Ada</name></author>
      <category term="Featured"/><category term="Technology"/>
    </entry>
    <entry>
      <title>Updated only, content only</title>
      <link href="https://atom.example/posts/2"/>
      <id>urn:uuid:2</id>
      <updated>2026-11-22T09:00:00Z</updated>
      <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inline <b>xhtml</b></p></div></content>
    </entry>
    <entry>
      <title>Bad date: dropped, the rest of the feed survives</title>
      <link href="https://atom.example/posts/3"/>
      <id>urn:uuid:3</id>
      <published>not a date</published>
    </entry>
    <entry>
      <title>Zone-less date: read as UTC, not the server's zone</title>
      <link href="https://atom.example/posts/4"/>
      <id>urn:uuid:4</id>
      <published>2026-11-21T09:30:00</published>
    </entry>
  </feed>`;

  it('normalises entries', async () => {
    const articles = await parseFeed(atom, 'test');
    expect(articles).toEqual([
      {
        id: 'urn:uuid:1',
        title: 'Tees & Wear news',
        url: 'https://atom.example/posts/1',
        summaryHtml: 'The short one',
        author: 'Ada',
        section: 'Technology',
        publishedAt: new Date('2026-11-23T08:00:00Z'),
        imageUrl: 'https://atom.example/pic.png',
        featured: true,
      },
      {
        id: 'urn:uuid:2',
        title: 'Updated only, content only',
        url: 'https://atom.example/posts/2',
        summaryHtml: '<p>Inline <b>xhtml</b></p>',
        publishedAt: new Date('2026-11-22T09:00:00Z'),
      },
      {
        id: 'urn:uuid:4',
        title: "Zone-less date: read as UTC, not the server's zone",
        url: 'https://atom.example/posts/4',
        summaryHtml: '',
        publishedAt: new Date('2026-11-21T09:30:00Z'),
      },
    ]);
  });

  it('resolves relative links against the fetch URL when given', async () => {
    const [first] = await parseFeed(atom, 'test', { baseUrl: 'https://mirror.example/feeds/x.atom' });
    expect(first.url).toBe('https://mirror.example/posts/1');
  });
});

describe('parseFeed: JSON Feed', () => {
  const jsonFeed = (items: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', title: 'JSON', home_page_url: 'https://json.example/', items, ...extra });

  it('normalises 1.1 items', async () => {
    const body = jsonFeed([
      {
        id: 'j1',
        url: 'https://json.example/1',
        title: '  Leeds &amp; Bradford  ',
        summary: 'Plain <text> summary & more',
        content_html: '<p>Long <script>x</script>body</p>',
        image: 'https://json.example/1.jpg',
        date_published: '2026-11-23T07:00:00+00:00',
        authors: [{ name: 'Sam' }],
        tags: ['Property', 'featured'],
      },
      { id: 42, url: '/2', title: 'Numeric id, relative url, content only', content_html: '<p>Body <img src="https://json.example/b.jpg"></p>', date_modified: '2026-11-23T06:00:00Z' },
      { id: 'j3', title: 'No url: dropped', date_published: '2026-11-23T06:00:00Z' },
      { id: 'j4', url: 'https://json.example/4', title: 'No date: dropped' },
      { id: 'j5', url: 'https://json.example/5', title: 'Text only', content_text: 'Line one\nline two\n\nPara <2>', date_published: '2026-11-23T05:00:00Z', banner_image: 'https://json.example/banner.png' },
    ]);
    const articles = await parseFeed(Buffer.from(body), 'test');
    expect(articles).toEqual([
      {
        id: 'j1',
        title: 'Leeds & Bradford',
        url: 'https://json.example/1',
        summaryHtml: '<p>Plain &lt;text&gt; summary &amp; more</p>',
        author: 'Sam',
        section: 'Property',
        publishedAt: new Date('2026-11-23T07:00:00Z'),
        imageUrl: 'https://json.example/1.jpg',
        featured: true,
      },
      {
        id: '42',
        title: 'Numeric id, relative url, content only',
        url: 'https://json.example/2',
        summaryHtml: '<p>Body </p>',
        publishedAt: new Date('2026-11-23T06:00:00Z'),
        imageUrl: 'https://json.example/b.jpg',
      },
      {
        id: 'j5',
        title: 'Text only',
        url: 'https://json.example/5',
        summaryHtml: '<p>Line one<br />line two</p><p>Para &lt;2&gt;</p>',
        publishedAt: new Date('2026-11-23T05:00:00Z'),
        imageUrl: 'https://json.example/banner.png',
      },
    ]);
  });

  it('reads a 1.0 author object', async () => {
    const body = jsonFeed([{ id: 'a', url: 'https://json.example/a', title: 'T', date_published: '2026-11-23T07:00:00Z', author: { name: 'Old Style' } }], {
      version: 'https://jsonfeed.org/version/1',
    });
    expect((await parseFeed(body, 'test'))[0].author).toBe('Old Style');
  });

  it('refuses an invalid JSON Feed, naming the source and the field', async () => {
    const wrongType = await feedError(parseFeed(jsonFeed([{ id: 'x', title: 7 }]), 'json-src'));
    expect(wrongType.source).toBe('json-src');
    expect(wrongType.message).toMatch(/^feed json-src: invalid JSON Feed: items\.0\.title/);

    const noItems = await feedError(parseFeed(JSON.stringify({ version: 'https://jsonfeed.org/version/1.1', title: 'x' }), 'json-src'));
    expect(noItems.message).toMatch(/invalid JSON Feed: items/);
  });

  it('refuses JSON that is not a JSON Feed, and malformed JSON', async () => {
    expect((await feedError(parseFeed('{"hello": "world"}', 's'))).message).toMatch(/JSON without a JSON Feed version/);
    expect((await feedError(parseFeed('{"version": "https://jsonfeed.org/version/1.1", ', 's'))).message).toMatch(/malformed JSON/);
  });
});

describe('parseFeed: character encodings', () => {
  const latin1Feed = (declaration: string) =>
    Buffer.from(
      `${declaration}<rss version="2.0"><channel><title>t</title><link>https://pt.example/</link><description>d</description>` +
        `<item><title>Mãe é a nova presidente</title><link>https://pt.example/1</link><pubDate>Wed, 03 Jan 2018 13:47:00 GMT</pubDate></item></channel></rss>`,
      'latin1',
    );

  it('decodes a Buffer using the XML declaration (ISO-8859-1)', async () => {
    const [item] = await parseFeed(latin1Feed('<?xml version="1.0" encoding="ISO-8859-1"?>'), 'test');
    expect(item.title).toBe('Mãe é a nova presidente');
  });

  it('uses the HTTP charset when the document declares none', async () => {
    const [item] = await parseFeed(latin1Feed('<?xml version="1.0"?>'), 'test', { contentType: 'application/rss+xml; charset=iso-8859-1' });
    expect(item.title).toBe('Mãe é a nova presidente');
  });

  it('falls back to windows-1252 for undeclared bytes that are not UTF-8', async () => {
    const [item] = await parseFeed(latin1Feed(''), 'test');
    expect(item.title).toBe('Mãe é a nova presidente');
  });

  it('honours a UTF-8 or UTF-16 byte-order mark', async () => {
    const xml = latin1Feed('').toString('latin1');
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml, 'utf8')]);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
    expect((await parseFeed(utf8, 'test'))[0].title).toBe('Mãe é a nova presidente');
    expect((await parseFeed(utf16, 'test'))[0].title).toBe('Mãe é a nova presidente');
  });

  it('refuses an unknown encoding', async () => {
    const error = await feedError(parseFeed(latin1Feed('<?xml version="1.0" encoding="x-klingon"?>'), 'enc'));
    expect(error.message).toBe('feed enc: unsupported character encoding "x-klingon"');
  });
});

describe('parseFeed: refusals', () => {
  it('refuses malformed XML with the parser position', async () => {
    const error = await feedError(parseFeed('<rss version="2.0"><channel><item><title>x</item></channel></rss>', 'broken.xml'));
    expect(error.source).toBe('broken.xml');
    expect(error.message).toMatch(/^feed broken\.xml: malformed XML: .*Line: \d+/);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('refuses an HTML page, saying so', async () => {
    const error = await feedError(parseFeed('<!DOCTYPE html><html><head><title>Moved</title></head><body></body></html>', 'page'));
    expect(error.message).toBe('feed page: unrecognised format: the root element is <html>, expected <rss>, <rdf:RDF> or <feed> (this looks like an HTML page, not a feed)');
  });

  it('refuses other XML, plain text and empty bodies', async () => {
    expect((await feedError(parseFeed('<?xml version="1.0"?><!-- c --><opml version="2.0"/>', 's'))).message).toMatch(/root element is <opml>/);
    expect((await feedError(parseFeed('Service unavailable', 's'))).message).toMatch(/neither XML nor JSON/);
    expect((await feedError(parseFeed(Buffer.alloc(0), 's'))).message).toBe('feed s: the document is empty');
    expect((await feedError(parseFeed('  \n ', 's'))).message).toBe('feed s: the document is empty');
  });
});

describe('parseFeedDate', () => {
  it.each([
    ['Tue, 24 Nov 2026 05:30:00 +0000', '2026-11-24T05:30:00.000Z'],
    ['Tue, 24 Nov 2026 05:30:00 GMT', '2026-11-24T05:30:00.000Z'],
    ['24 Nov 2026 05:30 -0500', '2026-11-24T10:30:00.000Z'],
    ['Tue, 24 Nov 2026 05:30:00 EST', '2026-11-24T10:30:00.000Z'],
    ['Tue, 24 Nov 2026 05:30:00 BST', '2026-11-24T04:30:00.000Z'],
    ['Tue, 24 Nov 2026 05:30:00', '2026-11-24T05:30:00.000Z'],
    ['Wed, 03 Jan 2018 13:47:00 GMT\r\n      ', '2018-01-03T13:47:00.000Z'],
    ['Seg, 24 Set 2018 19:42:40 -0300', '2018-09-24T22:42:40.000Z'],
    ['Mi, 3 Okt 2018 10:00:00 +0200', '2018-10-03T08:00:00.000Z'],
    ['03 Apr 02 1500 GMT', '2002-04-03T15:00:00.000Z'],
    ['2026-11-24T05:30:00Z', '2026-11-24T05:30:00.000Z'],
    ['2026-11-24T05:30:00.250+01:00', '2026-11-24T04:30:00.250Z'],
    ['2026-11-24T05:30:00+0100', '2026-11-24T04:30:00.000Z'],
    ['2026-11-24 05:30:00', '2026-11-24T05:30:00.000Z'],
    ['2026-11-24', '2026-11-24T00:00:00.000Z'],
  ])('%j -> %s', (input, expected) => {
    expect(parseFeedDate(input)?.toISOString()).toBe(expected);
  });

  it.each(['', 'yesterday', '31 Feb 2026 10:00:00 GMT', '24 Foo 2026 10:00 GMT', '2026-13-40T00:00:00Z', '24 Nov 2026 10:00 XYZ', '5'])(
    'refuses %j',
    (input) => {
      expect(parseFeedDate(input)).toBeUndefined();
    },
  );
});

describe('parseFeed: images an email can show', () => {
  const item = (media: string) => Buffer.from(`<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title><link>https://news.example/</link><description>d</description>
<item><title>Port expands</title><link>https://news.example/port</link><pubDate>Tue, 24 Nov 2026 05:00:00 GMT</pubDate>${media}</item></channel></rss>`);

  test('a WebP or SVG listed first gives way to a raster alternative the feed also gives', async () => {
    const [article] = await parseFeed(item('<enclosure url="https://img.example/port.webp" type="image/webp" length="1"/><media:content url="https://img.example/port.jpg" medium="image"/>'), 'test');
    expect(article?.imageUrl).toBe('https://img.example/port.jpg');
  });

  test('with only an SVG, the story has no image rather than a broken one', async () => {
    const [article] = await parseFeed(item('<enclosure url="https://img.example/chart.svg" type="image/svg+xml" length="1"/>'), 'test');
    expect(article?.imageUrl).toBeUndefined();
  });
});
