/** The I/O edge of the articles domain: a source's bytes (HTTP, file, shipped sample), size-limited, handed to the pure parser. */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_FEED_MAX_BYTES } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Article, FeedSource } from './article';
import { FeedError, causeMessage } from './errors';
import { parseFeedDetailed, type SkippedItem } from './feed-parser';
import { matchesSection } from './pick';
import { sanitizeSummaryHtml } from './sanitize';

/*
 * Every failure becomes a FeedError naming the source, so the edition builder can refuse to send
 * an edition built from half a feed. No source is ever read whole before its size is known to be
 * within the limit: a file is measured with fstat (and read no further than the limit), an HTTP
 * body is counted as it streams (after decompression, so a gzip bomb stops at the limit too).
 */

export interface LoadOptions {
  clock: Clock;
  /** Relative file and sample paths are resolved from here (the config's folder). */
  baseDir: string;
  /** Public base URL of the web app: sample images are served from `${publicUrl}/static/...`. */
  publicUrl: string;
  /** Injected in tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Refuse larger feeds rather than hold an unbounded body in memory; a source's own maxBytes wins. */
  maxBytes?: number;
  /** Told about each item left out of the feed (an unreadable date, no link...), for a warning. */
  onSkipped?: (item: SkippedItem, source: string) => void;
}

export const DEFAULT_FEED_TIMEOUT_MS = 15_000;
export { DEFAULT_FEED_MAX_BYTES };

/** What a source yields before any section filter: its articles and the items left out, with why. */
export interface LoadedFeed {
  /** The source as errors name it, e.g. `file feeds/x.xml`. */
  source: string;
  title?: string;
  articles: Article[];
  skipped: SkippedItem[];
}

/** How a source is named in errors and logs, e.g. `url https://example.com/feed.xml`. */
export function describeSource(source: FeedSource): string {
  switch (source.kind) {
    case 'url':
      return `url ${redactUrl(source.url)}`;
    case 'file':
      return `file ${source.path}`;
    case 'sample':
      return `sample ${source.path}`;
  }
}

export async function loadArticles(source: FeedSource, options: LoadOptions): Promise<Article[]> {
  const feed = await loadFeed(source, options);
  if (options.onSkipped) for (const item of feed.skipped) options.onSkipped(item, feed.source);
  return source.section ? filterBySection(feed.articles, source.section) : feed.articles;
}

/** A source's articles with no section filter applied, and the items it left out: what `daybreak feed` shows. */
export async function loadFeed(source: FeedSource, options: LoadOptions): Promise<LoadedFeed> {
  const name = describeSource(source);
  const maxBytes = source.maxBytes ?? options.maxBytes ?? DEFAULT_FEED_MAX_BYTES;
  try {
    switch (source.kind) {
      case 'url':
        return { source: name, ...(await loadUrl(source.url, source.timeoutMs ?? DEFAULT_FEED_TIMEOUT_MS, name, { ...options, maxBytes })) };
      case 'file':
        return { source: name, ...(await parseFeedDetailed(await readSourceFile(source.path, options.baseDir, name, maxBytes), name)) };
      case 'sample':
        return { source: name, articles: parseSample(await readSourceFile(source.path, options.baseDir, name, maxBytes), name, options), skipped: [] };
    }
  } catch (error) {
    if (error instanceof FeedError) throw error;
    throw new FeedError(name, causeMessage(error), { cause: error });
  }
}

/** A regional or topical newsletter over a broad feed: match the section or the region, ignoring case. */
export function filterBySection(articles: Article[], wanted: string): Article[] {
  return articles.filter((a) => matchesSection(a, wanted));
}

/** A file's bytes, refused (without reading it) when fstat says it is over the limit, and never read past it. */
async function readSourceFile(file: string, baseDir: string, name: string, maxBytes: number): Promise<Buffer> {
  const full = path.resolve(baseDir, file);
  const cannotRead = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    return new FeedError(name, `cannot read ${full}${code ? ` (${code})` : ''}`, { cause: error });
  };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(full, 'r');
  } catch (error) {
    throw cannotRead(error);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new FeedError(name, `${full} is a folder, not a feed file`);
    if (stat.size > maxBytes) throw tooLarge(name, full, stat.size, maxBytes);
    // One byte more than the limit: a file that grew since fstat is still caught.
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        if (length > maxBytes) throw tooLarge(name, full, undefined, maxBytes);
        break;
      }
    }
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof FeedError) throw error;
    throw cannotRead(error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The refusal for an over-size feed: what, how big, the limit, and which setting raises it. */
function tooLarge(name: string, what: string, size: number | undefined, maxBytes: number): FeedError {
  const limit = `the limit of ${formatBytes(maxBytes)} for a feed`;
  const problem = size === undefined ? `${what} is over ${limit} (reading stopped there)` : `${what} is ${formatBytes(size)}, over ${limit}`;
  return new FeedError(name, `${problem}. If the feed is genuine, raise "maxBytes" on this source or "feedMaxBytes" in the config`);
}

/** 1000 bytes, 48.8 KB, 5 MB, 28.1 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 10 * 1024) return `${bytes} bytes`;
  const [value, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KB'] : [bytes / (1024 * 1024), 'MB'];
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function loadUrl(url: string, timeoutMs: number, name: string, options: LoadOptions & { maxBytes: number }): Promise<Omit<LoadedFeed, 'source'>> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const shown = redactUrl(url);
  // One signal for headers and body: a server that trickles the body cannot hold the edition up.
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () => new FeedError(name, `timed out after ${timeoutMs} ms fetching ${shown}`);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      signal,
      redirect: 'follow',
      headers: {
        accept: 'application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5',
        'user-agent': 'Daybreak newsletter (+feed fetcher)',
      },
    });
  } catch (error) {
    if (signal.aborted) throw timedOut();
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause ? `${causeMessage(error)}: ${causeMessage(cause)}` : causeMessage(error);
    throw new FeedError(name, `could not fetch ${shown}: ${detail}`, { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new FeedError(name, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} from ${shown}`);
  }
  let body: Buffer;
  try {
    body = await readBody(response, options.maxBytes, name, shown);
  } catch (error) {
    if (error instanceof FeedError) throw error;
    if (signal.aborted) throw timedOut();
    throw new FeedError(name, `error reading the response from ${shown}: ${causeMessage(error)}`, { cause: error });
  }
  return parseFeedDetailed(body, name, { contentType: response.headers.get('content-type') ?? undefined, baseUrl: response.url || url });
}

async function readBody(response: Response, maxBytes: number, name: string, shown: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(name, `the response from ${shown} (Content-Length)`, declared, maxBytes);
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(name, `the response from ${shown}`, undefined, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Feed URLs may carry credentials in user:pass@; they must not end up in logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '***';
    parsed.password = '';
    return parsed.href;
  } catch {
    return url;
  }
}

// ---------------------------------------------------------------------------------------------
// Shipped sample data

// Raster only: Gmail's webmail and Outlook for Windows show no SVG, Outlook no WebP.
const imageFile = z.string().regex(/^[a-z0-9][a-z0-9-]*\.(png|jpe?g|gif)$/, 'a PNG, JPEG or GIF file name in samples/images/ (email clients do not all show SVG or WebP)');

const sampleArticleSchema = z
  .object({
    /** Defaults to the url. */
    id: z.string().min(1).optional(),
    title: z.string().min(1),
    url: z.url({ protocol: /^https?$/ }),
    /** HTML allowed; sanitised like any feed summary. */
    summary: z.string(),
    author: z.string().min(1).optional(),
    section: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    image: imageFile.optional(),
    /** Age relative to "now", so the demo always has the day's news. */
    hoursAgo: z.number().min(0).max(24 * 30),
    featured: z.boolean().optional(),
  })
  .strict();

export const sampleFileSchema = z
  .object({
    description: z.string().optional(),
    articles: z.array(sampleArticleSchema).min(1),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.articles.forEach((a, i) => {
      const id = a.id ?? a.url;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['articles', i], message: `duplicate article id/url "${id}"` });
      seen.add(id);
    });
  });

export type SampleFile = z.infer<typeof sampleFileSchema>;

function parseSample(body: Buffer, name: string, options: LoadOptions): Article[] {
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new FeedError(name, `malformed JSON: ${causeMessage(error)}`, { cause: error });
  }
  const parsed = sampleFileSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FeedError(name, `invalid sample file: ${issues.join('; ')}`, { cause: parsed.error });
  }
  const now = options.clock.now().getTime();
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  return parsed.data.articles.map((s) => {
    const article: Article = {
      id: s.id ?? s.url,
      title: s.title.trim(),
      url: s.url,
      summaryHtml: sanitizeSummaryHtml(s.summary, { baseUrl: s.url }),
      publishedAt: new Date(now - Math.round(s.hoursAgo * 3_600_000)),
    };
    if (s.author) article.author = s.author;
    if (s.section) article.section = s.section;
    if (s.region) article.region = s.region;
    if (s.image) article.imageUrl = `${publicUrl}/static/samples/images/${s.image}`;
    if (s.featured) article.featured = true;
    return article;
  });
}
