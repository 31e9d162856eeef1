import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sections = ['Finance', 'Property', 'Technology', 'Manufacturing', 'People'];

/**
 * An RSS 2.0 file with `perDay` distinct stories for each morning given: each published the day
 * before between 08:00 and 05:00 UTC, so it belongs to exactly that morning's edition.
 */
export function writeTestFeed(mornings: string[], perDay = 8): string {
  const items: string[] = [];
  for (const morning of mornings) {
    const slot = new Date(`${morning}T06:00:00Z`).getTime();
    for (let k = 0; k < perDay; k++) {
      const published = new Date(slot - (22 - k * 2) * 3_600_000);
      const id = `${morning}-${k}`;
      items.push(`<item>
  <title>Story ${k + 1} for ${morning}: Tyneside firm &amp; partners expand</title>
  <link>https://news.example/${id}?utm_source=feed&amp;ref=rss</link>
  <guid isPermaLink="false">${id}</guid>
  <pubDate>${published.toUTCString()}</pubDate>
  <dc:creator>Reporter ${k}</dc:creator>
  <category>${sections[k % sections.length]}</category>
  <description><![CDATA[<p>Summary of story ${k + 1} on ${morning}. <script>alert(1)</script><b>Growth</b> continues.</p>]]></description>
  <enclosure url="https://news.example/img/${id}.jpg" type="image/jpeg" length="1000"/>
</item>`);
    }
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Test business news</title><link>https://news.example/</link><description>test</description>
${items.join('\n')}
</channel></rss>
`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-feed-')), 'feed.xml');
  fs.writeFileSync(file, xml);
  return file;
}

/** The default config's newsletters, with national reading the given feed file. */
export function newslettersWithFeed(file: string, overrides: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  const raw = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'daybreak.json'), 'utf8')) as { newsletters: Array<Record<string, unknown>> };
  return raw.newsletters.map((n) => (n.id === 'national' ? { ...n, source: { file }, ...overrides } : n));
}
