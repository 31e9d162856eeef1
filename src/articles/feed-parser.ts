/** Feed text -> Articles: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed, read into one shape and normalised alike. */
import { TextDecoder } from 'node:util';
import { z } from 'zod';
import type { Article } from './article';
import { FeedError, causeMessage } from './errors';
import { parseFeedDate } from './feed-date';
import { htmlToPlainText, sanitizeSummaryHtml } from './sanitize';
import { XmlTreeError, childElements, deepText, firstChild, innerMarkup, ownText, parseXmlTree, type XmlElement } from './xml-tree';
import { pickEmailImage } from './email-image';

export { parseFeedDate } from './feed-date';

/**
 * XML feeds are read with sax into a small bounded tree (xml-tree.ts) and walked here; JSON Feed
 * is validated with zod. Every format is reduced to one RawItem shape and normalised by the same
 * code, so the rules below hold whatever the source:
 *
 * - id: RSS guid, else RSS 1.0 rdf:about; Atom id; JSON Feed id; else the link.
 * - url: absolute http(s) only. Relative links resolve per RFC 3986 against the nearest xml:base
 *   (itself resolved against the xml:base around it), else the URL the feed was fetched from,
 *   else the feed's own link. A link escaped twice by its publisher (`&amp;amp;`) is unescaped once more.
 * - An item without a usable link, a non-empty title or a readable date is left out on its own
 *   and reported in `skipped` (parseFeedDetailed), never with the rest of the feed. The date rule
 *   is deliberate: an undated item cannot be placed in "the day's articles", and guessing
 *   (fetch time, the channel's date) would resend old stories as new.
 * - Dates: RSS pubDate, dc:date; Atom 1.0 published, updated; Atom 0.3 issued, created, modified;
 *   the first readable one wins (feed-date.ts says which forms are read).
 * - summaryHtml: the short summary when there is one (RSS description, Atom summary, JSON Feed
 *   summary), else the full content, sanitised; an empty result moves on to the next candidate.
 * - section: the first category that is not a "featured"/"pinned" marker; featured: such a marker.
 *
 * Linear in the size of the document: sax is a single-pass state machine, every walk below visits
 * each node once, and no regex here runs over unbounded feed text with nested or overlapping
 * quantifiers (the size limit itself is enforced by load.ts before parsing).
 */

export interface ParseFeedOptions {
  /** HTTP Content-Type, for its charset when the document declares none. */
  contentType?: string;
  /** Where the feed was fetched from: the base for relative links. */
  baseUrl?: string;
}

/** Why an item was left out of the feed's articles. */
export type SkipReason = 'no-link' | 'no-title' | 'no-date' | 'unreadable-date';

/** An item of the feed that yields no article, with what a person needs to find it. */
export interface SkippedItem {
  /** Position in the feed, from 0. */
  index: number;
  reason: SkipReason;
  id?: string;
  title?: string;
  link?: string;
  /** The date text that could not be read (unreadable-date). */
  date?: string;
  /** One line for logs and the `daybreak feed` command. */
  message: string;
}

export interface FeedParseResult {
  /** The feed's own title, when it has one. */
  title?: string;
  articles: Article[];
  skipped: SkippedItem[];
}

export async function parseFeed(body: Buffer | string, sourceName: string, options: ParseFeedOptions = {}): Promise<Article[]> {
  return (await parseFeedDetailed(body, sourceName, options)).articles;
}

/** parseFeed, plus the items left out and why (an unreadable date, no link...). */
export async function parseFeedDetailed(body: Buffer | string, sourceName: string, options: ParseFeedOptions = {}): Promise<FeedParseResult> {
  const text = decodeBody(body, sourceName, options.contentType).replace(/^\uFEFF/, '');
  const start = text.trimStart();
  if (!start) throw new FeedError(sourceName, 'the document is empty');
  if (start.startsWith('{')) return parseJsonFeed(start, sourceName, options.baseUrl);
  if (start.startsWith('<')) return parseXmlFeed(start, sourceName, options.baseUrl);
  throw new FeedError(sourceName, `unrecognised format: neither XML nor JSON (starts with ${JSON.stringify(start.slice(0, 20))})`);
}

/** What every format is reduced to before normalisation. */
/** An HTML (or image URL) candidate, with the xml:base declared around it, if any. */
interface Candidate {
  html: string;
  base?: string;
}

interface RawItem {
  id?: string;
  /** As written; resolved against linkBase. */
  link?: string;
  linkBase?: string;
  title?: string;
  /** Summary HTML candidates, best (shortest) first; plain-text ones already escaped. */
  summaries: Candidate[];
  author?: string;
  categories: string[];
  /** Date strings, preferred first. */
  dates: string[];
  /** Image URL candidates, preferred first. base: a declared xml:base (else the article's URL). */
  images: { url: string; base?: string }[];
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
      const close = rest.indexOf('>');
      // Look for "[" only before the first ">": a search to the end of the text per DOCTYPE would be quadratic.
      const subset = close === -1 ? -1 : rest.slice(0, close).indexOf('[');
      end = subset !== -1 ? rest.indexOf(']>', subset) + 2 : close + 1;
    } else break;
    if (end <= 1) return undefined;
    rest = rest.slice(end);
  }
  return /^<([A-Za-z_][\w.:-]{0,100})/.exec(rest)?.[1];
}

const FEED_ROOTS = new Set(['rss', 'rdf:RDF', 'feed']);
const HTML_ROOTS = new Set(['html', 'head', 'body', 'HTML', 'HEAD', 'BODY']);

/** The base URL in force at an element, and whether an xml:base declared it (rather than the feed's URL). */
interface Scope {
  base?: string;
  declared: boolean;
}

/** The scope inside `element`: its xml:base, resolved against the one around it (RFC 3986 section 5). */
function within(element: XmlElement | undefined, outer: Scope): Scope {
  const raw = element?.attrs['xml:base'];
  if (raw === undefined) return outer;
  const resolved = resolveUrl(cleanUrl(raw), outer.base);
  return resolved ? { base: resolved, declared: true } : outer;
}

function parseXmlFeed(text: string, sourceName: string, baseUrl?: string): FeedParseResult {
  const rootName = xmlRootName(text);
  if (!rootName || !FEED_ROOTS.has(rootName)) {
    const what = rootName ? `the root element is <${rootName}>` : 'no root element found';
    const hint = rootName && HTML_ROOTS.has(rootName) ? ' (this looks like an HTML page, not a feed)' : '';
    throw new FeedError(sourceName, `unrecognised format: ${what}, expected <rss>, <rdf:RDF> or <feed>${hint}`);
  }
  let root: XmlElement;
  try {
    root = parseXmlTree(text);
  } catch (error) {
    if (!(error instanceof XmlTreeError)) throw error;
    throw new FeedError(sourceName, `malformed XML: ${causeMessage(error)}`, { cause: error });
  }
  return root.name === 'feed' ? atomFeed(root, baseUrl) : rssFeed(root, baseUrl);
}

function rssFeed(root: XmlElement, baseUrl: string | undefined): FeedParseResult {
  const channel = firstChild(root, 'channel');
  // RSS 1.0 puts items beside the channel; RSS 0.9x/2.0 inside it.
  const items = [...childElements(channel, 'item'), ...childElements(root, 'item')];
  const selfLink = childElements(channel, 'atom:link').find((l) => l.attrs.rel === 'self')?.attrs.href;
  // Without a fetch URL (a file), the channel's own link is the best base there is.
  const docBase = baseUrl ?? firstUrl(cleanUrl(ownText(firstChild(channel, 'link')) ?? ''), cleanUrl(selfLink ?? ''));
  const scope = within(channel, within(root, { base: docBase, declared: false }));
  return normaliseAll(items.map((item) => rssItem(item, scope)), textTitle(firstChild(channel, 'title')));
}

const RSS_DATES = ['pubDate', 'dc:date', 'dcterms:issued', 'dcterms:created', 'atom:published', 'atom:updated', 'dcterms:modified'];

function rssItem(item: XmlElement, outer: Scope): RawItem {
  const scope = within(item, outer);
  const guidElement = firstChild(item, 'guid');
  const guid = ownText(guidElement);
  const linkElement = firstChild(item, 'link');
  const linkText = ownText(linkElement) ?? linkElement?.attrs.href;
  // RSS 2.0: a guid is a permalink unless it says otherwise, so it can stand in for a missing link.
  const guidLink = guid && /^https?:\/\//i.test(guid) && guidElement?.attrs.isPermaLink?.toLowerCase() !== 'false' ? guid : undefined;
  const about = item.attrs['rdf:about']?.trim();
  return {
    id: guid ?? (about || undefined),
    link: linkText ?? guidLink,
    linkBase: linkText ? within(linkElement, scope).base : scope.base,
    title: ownText(firstChild(item, 'title')) ?? ownText(firstChild(item, 'dc:title')),
    summaries: ['description', 'summary', 'content:encoded']
      .map((name) => firstChild(item, name))
      .map((e): Candidate | undefined => (e ? { html: markupOrText(e), base: declaredBase(within(e, scope)) } : undefined))
      .filter((s): s is Candidate => Boolean(s?.html)),
    author: ownText(firstChild(item, 'dc:creator')) ?? ownText(firstChild(item, 'author')),
    categories: [...childElements(item, 'category'), ...childElements(item, 'dc:subject')].map(categoryOf).filter(isPresent),
    dates: RSS_DATES.map((name) => ownText(firstChild(item, name))).filter(isPresent),
    images: [
      ...childElements(item, 'enclosure')
        .filter((e) => e.attrs.url && e.attrs.type?.toLowerCase().startsWith('image/'))
        .map((e) => ({ url: e.attrs.url, base: declaredBase(within(e, scope)) })),
      ...mediaImages(item, scope),
    ],
  };
}

function atomFeed(root: XmlElement, baseUrl: string | undefined): FeedParseResult {
  let docBase = baseUrl;
  if (!docBase) {
    // Without a fetch URL (a file), the feed's alternate (else self) link, if absolute once the feed's xml:base applies.
    const links = childElements(root, 'link');
    const alternate = links.find((l) => !l.attrs.rel || l.attrs.rel === 'alternate') ?? links.find((l) => l.attrs.rel === 'self');
    if (alternate?.attrs.href) docBase = httpUrl(cleanUrl(alternate.attrs.href), within(alternate, within(root, { declared: false })).base);
  }
  const scope = within(root, { base: docBase, declared: false });
  return normaliseAll(childElements(root, 'entry').map((entry) => atomEntry(entry, scope)), textTitle(firstChild(root, 'title')));
}

// Atom 1.0 published/updated, Atom 0.3 issued/created/modified (Blogger, Mozillazine), then Dublin Core.
const ATOM_DATES = ['published', 'issued', 'created', 'updated', 'modified', 'dc:date'];

function atomEntry(entry: XmlElement, outer: Scope): RawItem {
  const scope = within(entry, outer);
  const links = childElements(entry, 'link');
  // An alternate (or rel-less) link, else the first link whatever its rel.
  const linkElement = links.find((l) => !l.attrs.rel || l.attrs.rel === 'alternate') ?? links[0];
  const id = ownText(firstChild(entry, 'id'));
  const link = linkElement?.attrs.href ?? ownText(linkElement) ?? (id && /^https?:\/\//i.test(id) ? id : undefined);
  const authorElement = firstChild(entry, 'author');
  // YouTube-style entries carry their only description in media:group (plain text).
  const mediaDescription = childElements(entry, 'media:group').map((g) => ownText(firstChild(g, 'media:description'))).find(isPresent);
  return {
    id,
    link,
    linkBase: linkElement ? within(linkElement, scope).base : scope.base,
    title: textTitle(firstChild(entry, 'title')),
    summaries: [
      ...['summary', 'content'].map((name) => firstChild(entry, name)).map((e) => (e ? atomText(e, scope) : undefined)),
      mediaDescription ? { html: textToHtml(mediaDescription) ?? '' } : undefined,
    ].filter((s): s is Candidate => Boolean(s?.html)),
    author: ownText(firstChild(authorElement, 'name')) ?? ownText(authorElement) ?? ownText(firstChild(entry, 'dc:creator')),
    categories: childElements(entry, 'category').map(categoryOf).filter(isPresent),
    dates: ATOM_DATES.map((name) => ownText(firstChild(entry, name))).filter(isPresent),
    images: [
      ...links
        .filter((l) => l.attrs.rel === 'enclosure' && l.attrs.href && l.attrs.type?.toLowerCase().startsWith('image/'))
        .map((l) => ({ url: l.attrs.href, base: declaredBase(within(l, scope)) })),
      ...mediaImages(entry, scope),
    ],
  };
}

/**
 * An Atom text construct as HTML. Atom 1.0 says type text|html|xhtml; Atom 0.3 a MIME type and a
 * mode (escaped|xml|base64). Only an explicit plain-text type is escaped: feeds that leave the type
 * out usually mean HTML.
 */
function atomText(element: XmlElement, outer: Scope): Candidate | undefined {
  const type = element.attrs.type?.toLowerCase();
  const mode = element.attrs.mode?.toLowerCase();
  const base = declaredBase(within(element, outer));
  let html: string | undefined;
  if (type === 'xhtml' || mode === 'xml' || childElements(element).length > 0) html = innerMarkup(element);
  else {
    let text = ownText(element);
    if (text && mode === 'base64') text = Buffer.from(text, 'base64').toString('utf8');
    html = type === 'text' || type === 'text/plain' ? textToHtml(text) : text;
  }
  return html ? { html, base } : undefined;
}

/** A title: its text, or the text under it for an xhtml title. */
function textTitle(element: XmlElement | undefined): string | undefined {
  return ownText(element) ?? deepText(element);
}

/** An element's HTML: its text, or (for unescaped markup inside it, which some feeds send) the markup. */
function markupOrText(element: XmlElement): string {
  return childElements(element).length > 0 ? innerMarkup(element) : (ownText(element) ?? '');
}

function declaredBase(scope: Scope): string | undefined {
  return scope.declared ? scope.base : undefined;
}

const NON_IMAGE_EXT = /\.(mp3|m4a|aac|ogg|wav|mp4|m4v|mov|webm|pdf)(\?|$)/i;

/** media:content (largest image first), then media:thumbnail, including inside media:group. */
function mediaImages(item: XmlElement, scope: Scope): { url: string; base?: string }[] {
  const groups = childElements(item, 'media:group').map((g) => ({ g, s: within(g, scope) }));
  const collect = (name: string) => [
    ...childElements(item, name).map((e) => ({ e, s: within(e, scope) })),
    ...groups.flatMap(({ g, s }) => childElements(g, name).map((e) => ({ e, s: within(e, s) }))),
  ];
  const contents = collect('media:content')
    .filter(({ e: { attrs: c } }) => c.url && (c.medium ? c.medium === 'image' : c.type ? c.type.startsWith('image/') : !NON_IMAGE_EXT.test(c.url)))
    .sort((a, b) => Number(b.e.attrs.width ?? 0) - Number(a.e.attrs.width ?? 0));
  const thumbs = collect('media:thumbnail').filter(({ e }) => e.attrs.url);
  return [...contents, ...thumbs].map(({ e, s }) => ({ url: e.attrs.url, base: declaredBase(s) }));
}

function categoryOf(element: XmlElement): string | undefined {
  return ownText(element) ?? element.attrs.term ?? element.attrs.label;
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

function parseJsonFeed(text: string, sourceName: string, baseUrl?: string): FeedParseResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new FeedError(sourceName, `malformed JSON: ${causeMessage(error)}`, { cause: error });
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version !== 'string' || !/^https?:\/\/jsonfeed\.org\/version\/1(\.\d+)?\/?$/.test(version)) {
    throw new FeedError(sourceName, `unrecognised format: JSON without a JSON Feed version (got ${JSON.stringify(typeof version === 'string' ? version.slice(0, 80) : (version ?? null))})`);
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
    linkBase: base,
    title: item.title ?? undefined,
    // `summary` and `content_text` are plain text; the short summary comes first.
    summaries: [textToHtml(item.summary), item.content_html, textToHtml(item.content_text)].filter(isPresent).map((html) => ({ html })),
    author: item.authors?.[0]?.name ?? item.author?.name ?? undefined,
    categories: item.tags ?? [],
    dates: [item.date_published, item.date_modified].filter(isPresent),
    images: [
      item.image,
      item.banner_image,
      ...(item.attachments ?? []).filter((a) => a.mime_type.startsWith('image/')).map((a) => a.url),
    ].filter(isPresent).map((url) => ({ url })),
  }));
  return normaliseAll(raw, feed.title);
}

// ---------------------------------------------------------------------------------------------
// Normalisation, shared by every format

const MARKER_CATEGORY = /^(featured|pinned)$/i;

function normaliseAll(items: RawItem[], feedTitle: string | undefined): FeedParseResult {
  const articles: Article[] = [];
  const skipped: SkippedItem[] = [];
  items.forEach((item, index) => {
    const outcome = normalise(item, index);
    if ('reason' in outcome) skipped.push(outcome);
    else articles.push(outcome);
  });
  const title = feedTitle ? htmlToPlainText(feedTitle) : '';
  return title ? { title, articles, skipped } : { articles, skipped };
}

const SKIP_TEXT: Record<SkipReason, string> = {
  'no-link': 'no http(s) link',
  'no-title': 'no title',
  'no-date': 'no date',
  'unreadable-date': 'unreadable date',
};

function normalise(raw: RawItem, index: number): Article | SkippedItem {
  const url = httpUrl(raw.link, raw.linkBase);
  const title = raw.title ? htmlToPlainText(raw.title) : '';
  const publishedAt = raw.dates.map(parseFeedDate).find((d): d is Date => d !== undefined);
  const reason: SkipReason | undefined = !url ? 'no-link' : !title ? 'no-title' : publishedAt ? undefined : raw.dates.length ? 'unreadable-date' : 'no-date';
  if (reason || !url || !publishedAt) return skippedItem(raw, index, reason ?? 'no-date', url, title);

  let summaryHtml = '';
  for (const candidate of raw.summaries) {
    summaryHtml = sanitizeSummaryHtml(candidate.html, { baseUrl: candidate.base ?? url });
    if (summaryHtml) break;
  }

  const categories = raw.categories.map((c) => htmlToPlainText(c)).filter(Boolean);
  const section = categories.find((c) => !MARKER_CATEGORY.test(c));
  // Of the images the feed gives (enclosures, media alternatives, then one in the content), the
  // first an email client can show: a WebP listed before a JPEG of the same picture yields the JPEG.
  const imageUrl = pickEmailImage([...raw.images.map((i) => httpUrl(i.url, i.base ?? url)), firstContentImage([...raw.summaries].reverse(), url)]);
  const author = authorName(raw.author);

  const article: Article = { id: raw.id?.trim() || url, title, url, summaryHtml, publishedAt };
  if (author) article.author = author;
  if (section) article.section = section;
  if (imageUrl) article.imageUrl = imageUrl;
  if (categories.some((c) => MARKER_CATEGORY.test(c))) article.featured = true;
  return article;
}

function skippedItem(raw: RawItem, index: number, reason: SkipReason, url: string | undefined, title: string): SkippedItem {
  const shown = (value: string, max: number) => (value.length > max ? `${value.slice(0, max - 1)}…` : value);
  const item: SkippedItem = { index, reason, message: '' };
  if (raw.id?.trim()) item.id = shown(raw.id.trim(), 300);
  if (title) item.title = shown(title, 200);
  const link = url ?? raw.link?.trim();
  if (link) item.link = shown(link, 300);
  if (reason === 'unreadable-date') item.date = shown(raw.dates[0], 80);
  const what = item.title ? `"${item.title}"` : item.link ? `<${item.link}>` : item.id ? `id ${item.id}` : '(untitled)';
  item.message = `item ${index + 1} ${what} left out: ${SKIP_TEXT[reason]}${item.date !== undefined ? ` ${JSON.stringify(item.date)}` : ''}`;
  return item;
}

/** RSS <author> is "email (Name)"; the name is what a reader wants. */
function authorName(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const text = htmlToPlainText(value);
  const inParens = /^[^\s@()]{1,200}@[^\s()]{1,200} ?\(([^()]{1,200})\)$/.exec(text)?.[1]?.trim();
  return inParens || text || undefined;
}

/** Longest <img> tag looked at: a longer one is hostile or broken, and skipped. */
const MAX_TAG_LENGTH = 4096;

/**
 * First <img> in the content that is not a 1x1 tracking pixel. Full content first: it has the
 * real pictures. One forward scan with indexOf; the position of the next ">" is remembered, so a
 * run of unclosed "<img" cannot make it rescan the rest of the text.
 */
function firstContentImage(candidates: Candidate[], url: string): string | undefined {
  for (const { html, base } of candidates) {
    const nextLower = nextIndexOf(html, '<img');
    const nextUpper = nextIndexOf(html, '<IMG');
    let from = 0;
    let close = -1;
    for (;;) {
      const lower = nextLower(from);
      const upper = nextUpper(from);
      const open = lower === -1 ? upper : upper === -1 ? lower : Math.min(lower, upper);
      if (open === -1) break;
      if (close < open) close = html.indexOf('>', open);
      if (close === -1) break;
      from = open + 4;
      if (close - open > MAX_TAG_LENGTH || !/[\s/>]/.test(html[open + 4] ?? '')) continue;
      const attrs = tagAttributes(html.slice(open + 4, close));
      if (attrs.width === '1' || attrs.height === '1') continue;
      const found = httpUrl(attrs.src?.replace(/&amp;/g, '&'), base ?? url);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * indexOf(needle, from) for increasing `from`, remembering the last hit: a needle that is absent
 * (or far ahead) is searched for once, not once per call.
 */
function nextIndexOf(text: string, needle: string): (from: number) => number {
  let last = -2;
  return (from) => {
    if (last === -1 || last >= from) return last;
    last = text.indexOf(needle, from);
    return last;
  };
}

/** The attributes of one (bounded) tag body, names lower-cased: a single left-to-right pass. */
function tagAttributes(body: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  let i = 0;
  const n = body.length;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '/';
  while (i < n) {
    while (i < n && isSpace(body[i])) i++;
    const nameStart = i;
    while (i < n && !isSpace(body[i]) && body[i] !== '=') i++;
    const name = body.slice(nameStart, i).toLowerCase();
    while (i < n && isSpace(body[i])) i++;
    if (body[i] !== '=') {
      if (name) attrs[name] ??= '';
      if (i === nameStart) i++;
      continue;
    }
    i++;
    while (i < n && isSpace(body[i]) && body[i] !== '/') i++;
    let value: string;
    const quote = body[i];
    if (quote === '"' || quote === "'") {
      const end = body.indexOf(quote, i + 1);
      value = body.slice(i + 1, end === -1 ? n : end);
      i = end === -1 ? n : end + 1;
    } else {
      const valueStart = i;
      while (i < n && body[i] !== ' ' && body[i] !== '\t' && body[i] !== '\n' && body[i] !== '\r') i++;
      value = body.slice(valueStart, i);
    }
    if (name) attrs[name] ??= value;
  }
  return attrs;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isPresent<T>(value: T | null | undefined | ''): value is T {
  return value !== undefined && value !== null && value !== '';
}

/**
 * A URL as written in a feed, trimmed, with a second layer of escaping undone: a publisher that
 * escapes "&" twice leaves "&amp;" in the URL once the XML parser has decoded it, and no real URL
 * means a literal "&amp;". Bounded: feed URLs longer than 8 KB are not URLs anyone can use.
 */
function cleanUrl(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length > 8192) return '';
  return trimmed.includes('&') ? trimmed.replace(/&(?:amp|#0*38|#x0*26);/gi, '&') : trimmed;
}

function resolveUrl(value: string, base: string | undefined): string | undefined {
  if (!value && !base) return undefined;
  try {
    return (base ? new URL(value, base) : new URL(value)).href;
  } catch {
    return undefined;
  }
}

/** An absolute http(s) URL (relative ones resolved against base), or undefined. */
function httpUrl(value: string | undefined, base?: string): string | undefined {
  const cleaned = value === undefined ? '' : cleanUrl(value);
  if (!cleaned) return undefined;
  const resolved = resolveUrl(cleaned, base);
  return resolved && /^https?:/i.test(resolved) ? resolved : undefined;
}

function absoluteHttpUrl(value: string | undefined): string | undefined {
  return value && /^https?:\/\//i.test(value.trim()) ? value.trim() : undefined;
}

function firstUrl(...values: (string | undefined)[]): string | undefined {
  return values.map((v) => httpUrl(v)).find(isPresent);
}

/** Plain text as HTML paragraphs (blank lines separate them). */
function textToHtml(text: string | null | undefined): string | undefined {
  const paragraphs = (text ?? '').split(/\n[^\S\n]*\n/).map((p) => p.trim()).filter(Boolean);
  const escape = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return paragraphs.length ? paragraphs.map((p) => `<p>${escape(p).replace(/\n/g, '<br>')}</p>`).join('') : undefined;
}
