import { TextDecoder } from 'node:util';
import Parser from 'rss-parser';
import { z } from 'zod';
import type { Article } from './article';
import { FeedError, causeMessage } from './errors';
import { htmlToPlainText, sanitizeSummaryHtml } from './sanitize';

/**
 * Feed text -> Articles. RSS 0.9x/1.0/2.0 and Atom go through rss-parser; JSON Feed is
 * validated with zod. Every format is reduced to one RawItem shape and normalised by the same
 * code, so the rules below hold whatever the source:
 *
 * - id: guid / Atom id / JSON Feed id, else the link.
 * - url: absolute http(s) only (relative links are resolved against the feed's base URL).
 * - An item without a usable link, a non-empty title or a parseable date is dropped. The date
 *   rule is deliberate: an undated item cannot be placed in "the day's articles", and guessing
 *   (fetch time, the channel's date) would resend old stories as new.
 * - summaryHtml: the short summary when there is one (RSS description, Atom summary, JSON Feed
 *   summary), else the full content, sanitised; an empty result moves on to the next candidate.
 * - section: the first category that is not a "featured"/"pinned" marker; featured: such a marker.
 */

export interface ParseFeedOptions {
  /** HTTP Content-Type, for its charset when the document declares none. */
  contentType?: string;
  /** Where the feed was fetched from: the base for relative links. */
  baseUrl?: string;
}

/** What every format is reduced to before normalisation. */
interface RawItem {
  id?: string;
  link?: string;
  title?: string;
  /** Summary HTML candidates, best (shortest) first; plain-text ones already escaped. */
  summaries: string[];
  author?: string;
  categories: string[];
  /** Date strings, preferred first. */
  dates: string[];
  /** Image URL candidates, preferred first. */
  images: string[];
}

export async function parseFeed(body: Buffer | string, sourceName: string, options: ParseFeedOptions = {}): Promise<Article[]> {
  const text = decodeBody(body, sourceName, options.contentType).replace(/^\uFEFF/, '');
  const start = text.trimStart();
  if (!start) throw new FeedError(sourceName, 'the document is empty');
  if (start.startsWith('{')) return parseJsonFeed(start, sourceName, options.baseUrl);
  if (start.startsWith('<')) return parseXmlFeed(start, sourceName, options.baseUrl);
  throw new FeedError(sourceName, `unrecognised format: neither XML nor JSON (starts with ${JSON.stringify(start.slice(0, 20))})`);
}

// ---------------------------------------------------------------------------------------------
// Character encoding

/**
 * A Buffer is decoded by its byte-order mark, else the XML declaration's encoding, else the HTTP
 * charset, else UTF-8. The document's own declaration beats the header because feeds are often
 * served as static files with a server-wide (wrong) charset. With nothing declared and bytes that
 * are not valid UTF-8, windows-1252 is assumed, as browsers do: such feeds exist (uolNoticias in
 * the corpus is Latin-1 with no declaration) and mojibake headlines are worse than a guess.
 */
function decodeBody(body: Buffer | string, sourceName: string, contentType?: string): string {
  if (typeof body === 'string') return body;
  let label = 'utf-8';
  let offset = 0;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) offset = 3;
  else if (body[0] === 0xff && body[1] === 0xfe) (label = 'utf-16le'), (offset = 2);
  else if (body[0] === 0xfe && body[1] === 0xff) (label = 'utf-16be'), (offset = 2);
  else {
    const head = body.subarray(0, 1024).toString('latin1');
    const declared = /^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/i.exec(head)?.[1];
    const fromHeader = contentType ? /;\s*charset\s*=\s*"?([A-Za-z0-9._:-]+)/i.exec(contentType)?.[1] : undefined;
    label = declared ?? fromHeader ?? 'utf-8';
    if (!declared && !fromHeader) {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        return new TextDecoder('windows-1252').decode(body);
      }
    }
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label);
  } catch (error) {
    throw new FeedError(sourceName, `unsupported character encoding "${label}"`, { cause: error });
  }
  return decoder.decode(body.subarray(offset));
}

// ---------------------------------------------------------------------------------------------
// XML: RSS and Atom

/** The root element's name, skipping the prolog (declaration, comments, doctype). */
function xmlRootName(text: string): string | undefined {
  let rest = text;
  for (;;) {
    rest = rest.trimStart();
    let end = -1;
    if (rest.startsWith('<?')) end = rest.indexOf('?>') + 2;
    else if (rest.startsWith('<!--')) end = rest.indexOf('-->') + 3;
    else if (/^<!DOCTYPE/i.test(rest)) {
      const subset = rest.indexOf('[');
      const close = rest.indexOf('>');
      end = subset !== -1 && subset < close ? rest.indexOf(']>', subset) + 2 : close + 1;
    } else break;
    if (end <= 1) return undefined;
    rest = rest.slice(end);
  }
  return /^<([A-Za-z_][\w.:-]*)/.exec(rest)?.[1];
}

const FEED_ROOTS = new Set(['rss', 'rdf:RDF', 'feed']);
const HTML_ROOTS = new Set(['html', 'head', 'body', 'HTML', 'HEAD', 'BODY']);

const CUSTOM_ITEM_FIELDS: [string, string, { keepArray: boolean }][] = [
  ['media:content', 'mediaContent', { keepArray: true }],
  ['media:thumbnail', 'mediaThumbnail', { keepArray: true }],
  ['media:group', 'mediaGroup', { keepArray: true }],
  ['category', 'categoryNodes', { keepArray: true }],
  ['dc:subject', 'dcSubjects', { keepArray: true }],
  ['link', 'linkNodes', { keepArray: true }],
  ['guid', 'guidNodes', { keepArray: true }],
];

/**
 * rss-parser converts Atom published/updated with `new Date(x).toISOString()`, which throws on
 * a bad date (failing the whole feed) and reads a zone-less date in the server's time zone.
 * Handing it our own parse, or '' (which it skips), drops just the bad item and stays deterministic.
 */
function normaliseAtomDates(value: string, name: string): string {
  if (name !== 'published' && name !== 'updated') return value;
  return parseFeedDate(value)?.toISOString() ?? '';
}

type XmlItem = Record<string, unknown>;

async function parseXmlFeed(text: string, sourceName: string, baseUrl?: string): Promise<Article[]> {
  const root = xmlRootName(text);
  if (!root || !FEED_ROOTS.has(root)) {
    const what = root ? `the root element is <${root}>` : 'no root element found';
    const hint = root && HTML_ROOTS.has(root) ? ' (this looks like an HTML page, not a feed)' : '';
    throw new FeedError(sourceName, `unrecognised format: ${what}, expected <rss>, <rdf:RDF> or <feed>${hint}`);
  }
  const parser = new Parser<Record<string, unknown>, XmlItem>({
    // Some real feeds omit <rss version>; treat them as 2.0 as readers do.
    defaultRSS: 2,
    customFields: { item: CUSTOM_ITEM_FIELDS as unknown as (keyof XmlItem)[] },
    xml2js: { valueProcessors: [normaliseAtomDates] },
  });
  let feed: Awaited<ReturnType<typeof parser.parseString>>;
  try {
    feed = await parser.parseString(text);
  } catch (error) {
    throw new FeedError(sourceName, `malformed XML: ${causeMessage(error)}`, { cause: error });
  }
  const base = firstUrl(baseUrl, textOf(feed.link), textOf(feed.feedUrl));
  const isAtom = root === 'feed';
  return normaliseAll((feed.items ?? []).map((item) => (isAtom ? atomItem(item) : rssItem(item))), base);
}

function rssItem(item: XmlItem): RawItem {
  const guid = textOf(item.guidNodes) ?? textOf(item.guid);
  const links = nodes(item.linkNodes).map(textOf).filter(isPresent);
  return {
    id: guid,
    // RSS 2.0: a guid is a permalink unless it says otherwise, so it can stand in for a missing link.
    link: links[0] ?? (guid && /^https?:\/\//i.test(guid) && !isNotPermalink(item.guidNodes) ? guid : undefined),
    title: textOf(item.title),
    // rss-parser puts <description> into `content`.
    summaries: [textOf(item.content), textOf(item.summary), textOf(item['content:encoded'])].filter(isPresent),
    author: textOf(item['dc:creator']) ?? textOf(item.creator) ?? textOf(item.author),
    categories: [...nodes(item.categoryNodes), ...nodes(item.dcSubjects)].map(categoryOf).filter(isPresent),
    // Not rss-parser's isoDate: it comes from V8's lenient Date parsing, which reads "5" as a date.
    dates: [textOf(item.pubDate), textOf(item['dc:date']), textOf(item.date)].filter(isPresent),
    images: [...enclosureImages(item.enclosure), ...mediaImages(item)],
  };
}

function atomItem(item: XmlItem): RawItem {
  const linkNodes = nodes(item.linkNodes).map(attrs);
  const alternate = linkNodes.find((l) => !l.rel || l.rel === 'alternate')?.href;
  // YouTube-style entries carry their only description in media:group (plain text).
  const mediaDescription = (nodes(item.mediaGroup) as XmlItem[]).map((g) => textOf(g['media:description'])).find(isPresent);
  return {
    id: textOf(item.id),
    // An Atom id that is an absolute http(s) URL is usually the permalink.
    link: alternate ?? textOf(item.link) ?? absoluteHttpUrl(textOf(item.id)),
    title: textOf(item.title),
    summaries: [textOf(item.summary), textOf(item.content), textToHtml(mediaDescription)].filter(isPresent),
    author: textOf(item.author) ?? textOf(item.creator),
    categories: nodes(item.categoryNodes).map(categoryOf).filter(isPresent),
    // rss-parser puts published, else updated, into pubDate (already normalised, see above).
    dates: [textOf(item.pubDate), textOf(item['dc:date'])].filter(isPresent),
    images: [
      ...linkNodes.filter((l) => l.rel === 'enclosure' && l.type?.startsWith('image/')).map((l) => l.href).filter(isPresent),
      ...mediaImages(item),
    ],
  };
}

function isNotPermalink(guidNodes: unknown): boolean {
  return attrs(nodes(guidNodes)[0]).isPermaLink?.toLowerCase() === 'false';
}

function enclosureImages(enclosure: unknown): string[] {
  const e = enclosure as { url?: string; type?: string } | undefined;
  return e?.url && e.type?.toLowerCase().startsWith('image/') ? [e.url] : [];
}

const NON_IMAGE_EXT = /\.(mp3|m4a|aac|ogg|wav|mp4|m4v|mov|webm|pdf)(\?|$)/i;

/** media:content (largest image first), then media:thumbnail, including inside media:group. */
function mediaImages(item: XmlItem): string[] {
  const groups = nodes(item.mediaGroup) as XmlItem[];
  const contents = [...nodes(item.mediaContent), ...groups.flatMap((g) => nodes(g['media:content']))].map(attrs);
  const thumbs = [...nodes(item.mediaThumbnail), ...groups.flatMap((g) => nodes(g['media:thumbnail']))].map(attrs);
  const images = contents
    .filter((c) => c.url && (c.medium ? c.medium === 'image' : c.type ? c.type.startsWith('image/') : !NON_IMAGE_EXT.test(c.url)))
    .sort((a, b) => Number(b.width ?? 0) - Number(a.width ?? 0));
  return [...images, ...thumbs].map((m) => m.url).filter(isPresent);
}

// ---------------------------------------------------------------------------------------------
// JSON Feed 1.0 / 1.1

const optionalText = z.string().nullish();
const jsonFeedAuthor = z.looseObject({ name: optionalText, url: optionalText });
const jsonFeedItem = z.looseObject({
  // The spec says string; some publishers emit numbers, which identify the item just as well.
  id: z.union([z.string(), z.number()]).nullish(),
  url: optionalText,
  external_url: optionalText,
  title: optionalText,
  content_html: optionalText,
  content_text: optionalText,
  summary: optionalText,
  image: optionalText,
  banner_image: optionalText,
  date_published: optionalText,
  date_modified: optionalText,
  author: jsonFeedAuthor.nullish(),
  authors: z.array(jsonFeedAuthor).nullish(),
  tags: z.array(z.string()).nullish(),
  attachments: z.array(z.looseObject({ url: z.string(), mime_type: z.string() })).nullish(),
});
const jsonFeedSchema = z.looseObject({
  version: z.string(),
  title: z.string(),
  home_page_url: optionalText,
  feed_url: optionalText,
  items: z.array(jsonFeedItem),
});

function parseJsonFeed(text: string, sourceName: string, baseUrl?: string): Article[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new FeedError(sourceName, `malformed JSON: ${causeMessage(error)}`, { cause: error });
  }
  const version = (data as { version?: unknown }).version;
  if (typeof version !== 'string' || !/^https?:\/\/jsonfeed\.org\/version\/1(\.\d+)?\/?$/.test(version)) {
    throw new FeedError(sourceName, `unrecognised format: JSON without a JSON Feed version (got ${JSON.stringify(version ?? null)})`);
  }
  const parsed = jsonFeedSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 3 ? ` (+${parsed.error.issues.length - 3} more)` : '';
    throw new FeedError(sourceName, `invalid JSON Feed: ${issues.join('; ')}${more}`, { cause: parsed.error });
  }
  const feed = parsed.data;
  const base = firstUrl(feed.home_page_url ?? undefined, feed.feed_url ?? undefined, baseUrl);
  const raw = feed.items.map((item): RawItem => ({
    id: item.id == null ? undefined : String(item.id),
    link: item.url ?? item.external_url ?? absoluteHttpUrl(item.id == null ? undefined : String(item.id)),
    title: item.title ?? undefined,
    // `summary` and `content_text` are plain text; the short summary comes first.
    summaries: [textToHtml(item.summary), item.content_html, textToHtml(item.content_text)].filter(isPresent),
    author: item.authors?.[0]?.name ?? item.author?.name ?? undefined,
    categories: item.tags ?? [],
    dates: [item.date_published, item.date_modified].filter(isPresent),
    images: [
      item.image,
      item.banner_image,
      ...(item.attachments ?? []).filter((a) => a.mime_type.startsWith('image/')).map((a) => a.url),
    ].filter(isPresent),
  }));
  return normaliseAll(raw, base);
}

// ---------------------------------------------------------------------------------------------
// Normalisation, shared by every format

const MARKER_CATEGORY = /^(featured|pinned)$/i;

function normaliseAll(items: RawItem[], base: string | undefined): Article[] {
  const articles: Article[] = [];
  for (const item of items) {
    const article = normalise(item, base);
    if (article) articles.push(article);
  }
  return articles;
}

function normalise(raw: RawItem, base: string | undefined): Article | undefined {
  const url = httpUrl(raw.link, base);
  const title = raw.title ? htmlToPlainText(raw.title) : '';
  const publishedAt = raw.dates.map(parseFeedDate).find((d): d is Date => d !== undefined);
  if (!url || !title || !publishedAt) return undefined;

  let summaryHtml = '';
  for (const candidate of raw.summaries) {
    summaryHtml = sanitizeSummaryHtml(candidate, { baseUrl: url });
    if (summaryHtml) break;
  }

  const categories = raw.categories.map((c) => htmlToPlainText(c)).filter(Boolean);
  const section = categories.find((c) => !MARKER_CATEGORY.test(c));
  const imageUrl = raw.images.map((i) => httpUrl(i, url)).find(isPresent) ?? firstContentImage([...raw.summaries].reverse(), url);
  const author = authorName(raw.author);

  const article: Article = { id: raw.id?.trim() || url, title, url, summaryHtml, publishedAt };
  if (author) article.author = author;
  if (section) article.section = section;
  if (imageUrl) article.imageUrl = imageUrl;
  if (categories.some((c) => MARKER_CATEGORY.test(c))) article.featured = true;
  return article;
}

/** RSS <author> is "email (Name)"; the name is what a reader wants. */
function authorName(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const text = htmlToPlainText(value);
  const inParens = /^\S+@\S+\s*\(([^)]+)\)$/.exec(text)?.[1]?.trim();
  return inParens || text || undefined;
}

/** First <img> in the content that is not a 1x1 tracking pixel. Full content first: it has the real pictures. */
function firstContentImage(htmls: string[], base: string): string | undefined {
  for (const html of htmls) {
    for (const tag of html.match(/<img\b[^>]*>/gi) ?? []) {
      const attr = (name: string) =>
        new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag)?.slice(1).find((v) => v !== undefined);
      if (attr('width') === '1' || attr('height') === '1') continue;
      const src = attr('src')?.replace(/&amp;/g, '&');
      const url = httpUrl(src, base);
      if (url) return url;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: Record<string, number> = {};
(
  [
    ['jan', 'janv', 'ene', 'gen', 'januar', 'janeiro', 'enero', 'gennaio', 'janvier', 'januari'],
    ['feb', 'fev', 'fév', 'févr', 'fevr', 'février', 'fevereiro', 'febrero', 'febbraio', 'februar', 'februari'],
    ['mar', 'mär', 'märz', 'mrz', 'mrt', 'mars', 'março', 'marzo', 'maart'],
    ['apr', 'abr', 'avr', 'avril', 'abril', 'aprile'],
    ['may', 'mai', 'mag', 'mei', 'maio', 'mayo', 'maggio'],
    ['jun', 'juin', 'giu', 'junho', 'junio', 'giugno', 'juni'],
    ['jul', 'juil', 'juillet', 'lug', 'julho', 'julio', 'luglio', 'juli'],
    ['aug', 'ago', 'août', 'aout', 'agosto', 'augustus'],
    ['sep', 'sept', 'set', 'setembro', 'septiembre', 'settembre', 'septembre'],
    ['oct', 'okt', 'out', 'ott', 'outubro', 'octubre', 'ottobre', 'octobre', 'oktober'],
    ['nov', 'novembre', 'novembro', 'noviembre'],
    ['dec', 'dez', 'dic', 'déc', 'dezember', 'dezembro', 'diciembre', 'dicembre', 'décembre'],
  ] as const
).forEach((names, month) => names.forEach((n) => (MONTHS[n] = month)));

function monthIndex(token: string): number | undefined {
  const t = token.toLowerCase().replace(/\.$/, '');
  return MONTHS[t] ?? (t.length > 3 ? MONTHS[t.slice(0, 3)] : undefined);
}

const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, BST: 60, CET: 60, WEST: 60, CEST: 120, EET: 120, EEST: 180,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};

/**
 * Feed dates: ISO 8601 / RFC 3339 and RFC 822 (including the common non-English day and month
 * names, e.g. Portuguese "Seg, 24 Set 2018"). A date with no zone is taken as UTC, so the
 * result does not depend on the server's time zone. Returns undefined when unparseable.
 */
export function parseFeedDate(value: string): Date | undefined {
  const text = value.trim().replace(/\s+/g, ' ');
  if (!text) return undefined;

  const iso = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.exec(text);
  if (iso) {
    const [, day, time, zone] = iso;
    if (!time) return valid(new Date(`${day}T00:00:00Z`));
    const offset = !zone || /^z$/i.test(zone) ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    return valid(new Date(`${day}T${time.replace(',', '.')}${offset}`));
  }

  // RFC 822: [Day,] DD Mon YY[YY] [HH:MM[:SS]] [zone]. The time may lack its colon ("1500").
  const rfc = /^(?:[^\d\s,]+\.?,? )?(\d{1,2}) ([^\d\s]+) (\d{2}|\d{4})(?: (\d{1,2}):?(\d{2})(?::?(\d{2}))?)?(?: ?([A-Za-z]{1,5}|[+-]\d{2}:?\d{2}))?$/.exec(text);
  if (rfc) {
    const [, d, mon, y, hh = '0', mm = '0', ss = '0', zone] = rfc;
    const month = monthIndex(mon);
    if (month === undefined) return undefined;
    let year = Number(y);
    if (y.length === 2) year += year < 50 ? 2000 : 1900;
    let offsetMinutes = 0;
    if (zone) {
      const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
      if (m) offsetMinutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
      else if (zone.toUpperCase() in ZONES) offsetMinutes = ZONES[zone.toUpperCase()];
      else return undefined;
    }
    const ms = Date.UTC(year, month, Number(d), Number(hh), Number(mm), Number(ss)) - offsetMinutes * 60_000;
    const date = valid(new Date(ms));
    // Date.UTC rolls 31 Feb into March; a real feed date never needs that.
    return date && new Date(Date.UTC(year, month, Number(d))).getUTCDate() === Number(d) ? date : undefined;
  }
  return undefined;
}

function valid(date: Date): Date | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date;
}

// ---------------------------------------------------------------------------------------------
// Small helpers for xml2js-shaped values

function isPresent<T>(value: T | null | undefined | ''): value is T {
  return value !== undefined && value !== null && value !== '';
}

/** Text of an xml2js value: a string, `{ _: text }`, or an array of those (first wins). Trimmed; '' becomes undefined. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.length ? textOf(value[0]) : undefined;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v._ === 'string') return v._.trim() || undefined;
    // e.g. an Atom title of type="xhtml": join the text below it.
    const parts = Object.entries(v).filter(([k]) => k !== '$').map(([, child]) => textOf(child)).filter(isPresent);
    return parts.join(' ') || undefined;
  }
  return undefined;
}

function nodes(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
}

function attrs(node: unknown): Record<string, string | undefined> {
  const a = (node as { $?: Record<string, string> } | undefined)?.$;
  return a && typeof a === 'object' ? a : {};
}

function categoryOf(node: unknown): string | undefined {
  if (typeof node === 'string') return node.trim() || undefined;
  const a = attrs(node);
  return textOf(node) ?? a.term ?? a.label;
}

/** An absolute http(s) URL (relative ones resolved against base), or undefined. */
function httpUrl(value: string | undefined, base?: string): string | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  try {
    const url = base ? new URL(trimmed, base) : new URL(trimmed);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function absoluteHttpUrl(value: string | undefined): string | undefined {
  return value && /^https?:\/\//i.test(value.trim()) ? value.trim() : undefined;
}

function firstUrl(...values: (string | undefined)[]): string | undefined {
  return values.map((v) => httpUrl(v)).find(isPresent);
}

/** Plain text as HTML paragraphs (blank lines separate them). */
function textToHtml(text: string | null | undefined): string | undefined {
  const paragraphs = (text ?? '').split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  const escape = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return paragraphs.length ? paragraphs.map((p) => `<p>${escape(p).replace(/\n/g, '<br>')}</p>`).join('') : undefined;
}
