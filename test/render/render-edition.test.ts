import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RenderedEdition } from '../../src/render/contract';
import { GMAIL_CLIP_BYTES, gmailClipWarning } from '../../src/render/gmail';
import { clearTemplateCache, renderEdition, renderSubject } from '../../src/render/render-edition';
import { countSlots, splitSlots } from '../../src/render/slots';
import { EMAIL_ONLY_END, EMAIL_ONLY_START, webCopyHtml } from '../../src/render/web-copy';
import { buildEditionContent, fixtureArticles } from './fixtures';

/** Text between two markers, for "where exactly" checks. */
function indexOrFail(haystack: string, needle: string, from = 0): number {
  const i = haystack.indexOf(needle, from);
  if (i < 0) throw new Error(`not found: ${needle}`);
  return i;
}

const htmlAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/=/g, '&#x3D;');

describe('renderEdition: the morning template', () => {
  let rendered: RenderedEdition;
  beforeAll(async () => {
    rendered = await renderEdition(buildEditionContent());
  });

  test('renders 12 stories with no warnings, well under the Gmail clip', () => {
    expect(rendered.warnings).toEqual([]);
    const bytes = Buffer.byteLength(rendered.html, 'utf8');
    expect(bytes).toBeLessThan(GMAIL_CLIP_BYTES * 0.6);
    expect(rendered.html.startsWith('<!doctype html>')).toBe(true);
    expect(rendered.html).toContain('<html lang="en-GB"');
    expect(rendered.timings.mjmlMs).toBeGreaterThan(0);
    expect(rendered.timings.textMs).toBeGreaterThan(0);
  });

  test('masthead, date line, title and preheader', () => {
    const { html } = rendered;
    expect(html).toContain('>Daybreak Business News</a>');
    expect(html).toMatch(/<h1 class="masthead-name"[^>]*>National<\/h1>/);
    expect(html).toContain('Tuesday 24 November 2026');
    expect(html).toContain('<title>National: Tuesday 24 November 2026</title>');
    expect(html).toContain('Fusion21 scoops first Cabinet Office Social Value Award \u2014 plus 11 more stories');
  });

  test('every article is linked once in the headlines, the lead with its image and alt text', () => {
    const { html } = rendered;
    for (const a of fixtureArticles()) {
      expect(html).toContain(`href="${htmlAttr(a.url)}"`);
      expect(html).toContain(a.title.replace(/'/g, '&#x27;'));
      expect(html).toContain(a.summaryHtml);
    }
    const lead = fixtureArticles()[0];
    const img = /<img\s[^>]*>/.exec(html)?.[0] ?? '';
    expect(img).toContain(`src="${lead.imageUrl}"`);
    expect(img).toContain(`alt="${lead.title}"`);
    expect(html.match(/<img\s/g)).toHaveLength(1);
    expect(indexOrFail(html, 'class="lead-title"')).toBeLessThan(indexOrFail(html, 'How to make your growth strategy'));
  });

  test('headlines are grouped by section, sections in order of their first story', () => {
    const { html } = rendered;
    const sectionHeads = [...html.matchAll(/<h2 style="font-size:13px[^>]*>([^<]+)<\/h2>/g)].map((m) => m[1]);
    expect(sectionHeads).toEqual(['Finance', 'North East', 'Property', 'North West', 'Members&#x27; News', 'Yorkshire', 'Technology']);
    // Both Finance stories sit between the Finance and North East headings, though 7 stories apart in the feed.
    const finance = indexOrFail(html, '>Finance</h2>');
    const northEast = indexOrFail(html, '>North East</h2>');
    expect(indexOrFail(html, 'How to make your growth strategy')).toBeGreaterThan(finance);
    expect(indexOrFail(html, 'Budget: creating a more vibrant market economy')).toBeGreaterThan(finance);
    expect(indexOrFail(html, 'Budget: creating a more vibrant market economy')).toBeLessThan(northEast);
    expect(html).toContain('By Ruth Oyelaran');
  });

  test('sign-up block and footer: signup link, postal address, slots for email, preferences and unsubscribe', () => {
    const { html } = rendered;
    expect(html).toContain('Enjoy the read?');
    expect(html).toContain('sign up to receive our popular morning National email for free.');
    expect(html).toContain(`href="${htmlAttr('https://daybreak.example/signup?list=national')}"`);
    expect(html).toContain('Daybreak Media Ltd, 1 Quayside, Newcastle upon Tyne NE1 3DX, United Kingdom');
    expect(html).toContain(`href="${htmlAttr('https://daybreak.example/newsletters/national/2026-11-24')}"`);
  });

  test('slot markers appear exactly once each, exactly where expected', () => {
    const { html, text } = rendered;
    expect(countSlots(splitSlots(html))).toEqual({ greeting: 1, email: 1, unsubscribeUrl: 1, preferencesUrl: 1 });
    expect(countSlots(splitSlots(text))).toEqual({ greeting: 1, email: 1, unsubscribeUrl: 1, preferencesUrl: 1 });
    expect(html).toContain('<p>%%slot:greeting%%</p>');
    expect(html).toContain('You are receiving this because %%slot:email%% subscribed to National from Daybreak Business News.');
    expect(html).toMatch(/<a href="%%slot:preferencesUrl%%"[^>]*>Manage your preferences<\/a>/);
    expect(html).toMatch(/<a href="%%slot:unsubscribeUrl%%"[^>]*>Unsubscribe<\/a>/);
    // Greeting before the lead story, footer slots after the sign-up block.
    expect(indexOrFail(html, '%%slot:greeting%%')).toBeLessThan(indexOrFail(html, 'class="lead-title"'));
    expect(indexOrFail(html, '%%slot:unsubscribeUrl%%')).toBeGreaterThan(indexOrFail(html, 'Enjoy the read?'));
    expect(text).toMatch(/^%%slot:greeting%%$/m);
    expect(text).toMatch(/Unsubscribe\s+\[%%slot:unsubscribeUrl%%\]/);
    expect(text).toMatch(/Manage your preferences\s+\[%%slot:preferencesUrl%%\]/);
  });

  test('plain-text part is readable and carries the links', () => {
    const { text } = rendered;
    expect(text).not.toMatch(/<[a-z/!]/i);
    expect(text).not.toContain('cdn.daybreak.example/images'); // images dropped
    expect(text).not.toContain('plus 11 more stories'); // hidden preheader skipped
    expect(text).toContain('NATIONAL');
    expect(text).toContain('FINANCE');
    expect(text).toContain('How to make your growth strategy deliver in 2026');
    expect(text).toContain('c\u00a3125m of savings');
    for (const a of fixtureArticles()) expect(text).toContain(`[${a.url}]`);
    expect(text).toContain('[https://daybreak.example/signup?list=national]');
    expect(text).toContain('Daybreak Media Ltd, 1 Quayside');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toMatch(/\n{3}/);
    for (const line of text.split('\n')) if (!line.includes('[http')) expect(line.length).toBeLessThanOrEqual(80);
  });

  test('subject from the subject template: not HTML-escaped, one line', async () => {
    expect(rendered.subject).toBe('National: Fusion21 scoops first Cabinet Office Social Value Award');
    expect(renderSubject('{{name}}\r\n{{date}} \n {{lead}}', { name: 'National', date: 'Tuesday', lead: 'M&S <profits> "up"' })).toBe(
      'National Tuesday M&S <profits> "up"',
    );
    const r = await renderEdition(buildEditionContent({ subjectTemplate: '{{name}} briefing: {{date}}' }));
    expect(r.subject).toBe('National briefing: Tuesday 24 November 2026');
  });

  test('renders the same edition identically twice (template cached, output deterministic)', async () => {
    const again = await renderEdition(buildEditionContent());
    expect(again.html).toBe(rendered.html);
    expect(again.text).toBe(rendered.text);
  });
});

describe('renderEdition: escaping and hostile content', () => {
  test('a title with <script> is escaped; summaryHtml goes in as given', async () => {
    const articles = fixtureArticles();
    articles[3] = { ...articles[3], title: 'Profits <script>alert("x")</script> & more', summaryHtml: '<p>Sales up <em>12%</em> &amp; rising</p>' };
    const r = await renderEdition(buildEditionContent({ articles }));
    expect(r.html).not.toContain('<script>alert');
    expect(r.html).toContain('Profits &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    expect(r.html).toContain('<p>Sales up <em>12%</em> &amp; rising</p>');
    expect(r.text).toContain('Profits <script>alert("x")</script> & more');
  });

  test('content cannot forge a slot marker or a javascript: link', async () => {
    const articles = fixtureArticles();
    articles[2] = { ...articles[2], title: 'Free %%slot:email%% offer', summaryHtml: '<p>Reply to %%slot:unsubscribeUrl%%</p>', url: 'javascript:alert(1)' };
    const r = await renderEdition(buildEditionContent({ articles }));
    expect(countSlots(splitSlots(r.html))).toEqual({ greeting: 1, email: 1, unsubscribeUrl: 1, preferencesUrl: 1 });
    expect(countSlots(splitSlots(r.text))).toEqual({ greeting: 1, email: 1, unsubscribeUrl: 1, preferencesUrl: 1 });
    expect(r.html).not.toContain('javascript:');
    expect(r.warnings.some((w) => w.includes('not http/https'))).toBe(true);
  });

  test('an edition with no articles still renders (with a warning)', async () => {
    const r = await renderEdition(buildEditionContent({ articles: [] }));
    expect(r.warnings).toContain('edition has no articles');
    expect(r.html).toContain('%%slot:unsubscribeUrl%%');
  });
});

describe('renderEdition: images an email can show', () => {
  const withLeadImage = (imageUrl: string) => {
    const articles = fixtureArticles();
    articles[0] = { ...articles[0], imageUrl };
    return buildEditionContent({ articles });
  };

  test.each([
    ['SVG', 'https://cdn.daybreak.example/images/lead-picture.svg'],
    ['WebP', 'https://cdn.daybreak.example/images/lead-picture.WEBP?v=3'],
    ['WebP asked of a CDN', 'https://images.daybreak.example/lead-picture?w=1200&fm=webp'],
    ['AVIF, Cloudinary style', 'https://res.cloudinary.example/demo/image/upload/w_600,f_avif/lead-picture'],
  ])('a lead image in a format Gmail or Outlook cannot show (%s) is left out, with a warning', async (_what, imageUrl) => {
    const r = await renderEdition(withLeadImage(imageUrl));
    expect(r.html).not.toMatch(/<img\s/);
    expect(r.html).not.toContain('lead-picture');
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^lead story image left out: (SVG|WEBP|AVIF) is not shown by every email client/);
  });

  test.each([
    ['a PNG made from an SVG', 'https://cdn.daybreak.example/uploads/flag.svg.png?20191008'],
    ['a JPEG a CDN converts from WebP', 'https://images.daybreak.example/lead-picture.webp?format=jpg'],
    ['an extension-less CDN URL', 'https://images.daybreak.example/p/8f3a2c'],
  ])('a raster lead image stays (%s)', async (_what, imageUrl) => {
    const r = await renderEdition(withLeadImage(imageUrl));
    expect(r.warnings).toEqual([]);
    expect(/<img\s[^>]*>/.exec(r.html)?.[0]).toContain(`src="${imageUrl.replace(/&/g, '&amp;').replace(/=/g, '&#x3D;')}"`);
  });
});

describe('the web copy of an edition', () => {
  test('drops the email-only chrome: view-in-browser, "you are receiving this", unsubscribe and preferences', async () => {
    const { html } = await renderEdition(buildEditionContent());
    // The email keeps all of it, between marks.
    expect(html).toContain('Trouble reading this email?');
    expect(html.split(EMAIL_ONLY_START)).toHaveLength(4);
    expect(html.split(EMAIL_ONLY_END)).toHaveLength(4);
    const web = webCopyHtml(html);
    expect(web).not.toContain('Trouble reading this email?');
    expect(web).not.toContain('View it in your browser');
    expect(web).not.toContain('https://daybreak.example/newsletters/national/2026-11-24');
    expect(web).not.toContain('You are receiving this');
    expect(web).not.toContain('Unsubscribe');
    expect(web).not.toContain('Manage your preferences');
    expect(web).not.toContain('daybreak:email-only');
    expect(countSlots(splitSlots(web))).toEqual({ greeting: 1, email: 0, unsubscribeUrl: 0, preferencesUrl: 0 });
    // What a web reader needs stays: the stories, sign-up, past editions, the postal address.
    for (const a of fixtureArticles()) expect(web).toContain(a.summaryHtml);
    expect(web).toContain('Sign up for free');
    expect(web).toMatch(/<a href="https:\/\/daybreak\.example\/newsletters\/national"[^>]*>Past editions<\/a>/);
    expect(web).toContain('Daybreak Media Ltd, 1 Quayside');
    // Cutting at the marks leaves Outlook's conditional tables balanced.
    const opens = (s: string) => (s.match(/<!--\[if mso \| IE\]><table/g) ?? []).length;
    const closes = (s: string) => (s.match(/<!--\[if mso \| IE\]><\/td><\/tr><\/table>/g) ?? []).length;
    expect(opens(web) - closes(web)).toBe(opens(html) - closes(html));
  });

  test('HTML without marks, or with a start mark never closed, is kept as it is', () => {
    expect(webCopyHtml('<p>stored before the marks</p>')).toBe('<p>stored before the marks</p>');
    expect(webCopyHtml(`<p>a</p>${EMAIL_ONLY_START}<p>b</p>${EMAIL_ONLY_END}<p>c</p>${EMAIL_ONLY_START}<p>d</p>`)).toBe(`<p>a</p><p>c</p>${EMAIL_ONLY_START}<p>d</p>`);
  });
});

describe('Gmail clipping', () => {
  test('warns when the HTML passes 102 KB (bytes, not characters)', async () => {
    const huge = '<p>' + 'Regional growth figures \u2013 £ for £, quarter by quarter. '.repeat(200) + '</p>';
    const articles = fixtureArticles().map((a) => ({ ...a, summaryHtml: huge }));
    const r = await renderEdition(buildEditionContent({ articles }));
    expect(Buffer.byteLength(r.html)).toBeGreaterThan(GMAIL_CLIP_BYTES);
    expect(r.warnings.some((w) => /Gmail clips/.test(w))).toBe(true);
  });

  test('gmailClipWarning counts UTF-8 bytes', () => {
    expect(GMAIL_CLIP_BYTES).toBe(104_448);
    expect(gmailClipWarning('a'.repeat(GMAIL_CLIP_BYTES - 1))).toBeUndefined();
    expect(gmailClipWarning('a'.repeat(GMAIL_CLIP_BYTES))).toMatch(/102\.0 KB/);
    expect(gmailClipWarning('\u00a3'.repeat(GMAIL_CLIP_BYTES / 2))).toBeDefined(); // 2 bytes each
    expect(gmailClipWarning('a'.repeat(GMAIL_CLIP_BYTES - 100), 200)).toMatch(/per-reader values/);
  });
});

describe('MJML validation', () => {
  const saved = process.env.DAYBREAK_TEMPLATES_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.DAYBREAK_TEMPLATES_DIR;
    else process.env.DAYBREAK_TEMPLATES_DIR = saved;
    clearTemplateCache();
  });

  test('MJML errors are reported as warnings (soft validation), output still produced', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-tpl-'));
    fs.writeFileSync(
      path.join(dir, 'morning.mjml.hbs'),
      '<mjml><mj-body><mj-section><mj-column><mj-text bogus-attribute="1">{{slot "greeting"}} {{slot "email"}} ' +
        '<a href="{{slot "unsubscribeUrl"}}">u</a> <a href="{{slot "preferencesUrl"}}">p</a></mj-text></mj-column></mj-section></mj-body></mjml>',
    );
    process.env.DAYBREAK_TEMPLATES_DIR = dir;
    clearTemplateCache();
    const r = await renderEdition(buildEditionContent());
    expect(r.warnings.some((w) => w.startsWith('MJML:') && w.includes('bogus-attribute'))).toBe(true);
    expect(r.html).toContain('%%slot:greeting%%');
  });
});
