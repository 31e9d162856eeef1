import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Clock } from '../core/clock';
import type { Article, FeedSource } from './article';
import { FeedError, causeMessage } from './errors';
import { parseFeed } from './feed-parser';
import { sanitizeSummaryHtml } from './sanitize';

/**
 * The I/O edge of the articles domain: get a source's bytes (HTTP, file, shipped sample) and
 * hand them to the pure parser. Every failure becomes a FeedError naming the source, so the
 * edition builder can refuse to send an edition built from half a feed.
 */

export interface LoadOptions {
  clock: Clock;
  /** Relative file and sample paths are resolved from here (the config's folder). */
  baseDir: string;
  /** Public base URL of the web app: sample images are served from `${publicUrl}/static/...`. */
  publicUrl: string;
  /** Injected in tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
  /** Refuse larger feeds rather than hold an unbounded body in memory. */
  maxBytes?: number;
}

export const DEFAULT_FEED_TIMEOUT_MS = 15_000;
export const DEFAULT_FEED_MAX_BYTES = 20 * 1024 * 1024;

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
  const name = describeSource(source);
  let articles: Article[];
  try {
    switch (source.kind) {
      case 'url':
        articles = await loadUrl(source.url, source.timeoutMs ?? DEFAULT_FEED_TIMEOUT_MS, name, options);
        break;
      case 'file':
        articles = await parseFeed(await readSourceFile(source.path, options.baseDir, name), name);
        break;
      case 'sample':
        articles = parseSample(await readSourceFile(source.path, options.baseDir, name), name, options);
        break;
    }
  } catch (error) {
    if (error instanceof FeedError) throw error;
    throw new FeedError(name, causeMessage(error), { cause: error });
  }
  return source.section ? filterBySection(articles, source.section) : articles;
}

/** A regional or topical newsletter over a broad feed: match the section or the region, ignoring case. */
export function filterBySection(articles: Article[], wanted: string): Article[] {
  const key = wanted.trim().toLowerCase();
  return articles.filter((a) => a.section?.trim().toLowerCase() === key || a.region?.trim().toLowerCase() === key);
}

async function readSourceFile(file: string, baseDir: string, name: string): Promise<Buffer> {
  const full = path.resolve(baseDir, file);
  try {
    return await readFile(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FeedError(name, `cannot read ${full}${code ? ` (${code})` : ''}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async function loadUrl(url: string, timeoutMs: number, name: string, options: LoadOptions): Promise<Article[]> {
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
    body = await readBody(response, options.maxBytes ?? DEFAULT_FEED_MAX_BYTES, name, shown);
  } catch (error) {
    if (error instanceof FeedError) throw error;
    if (signal.aborted) throw timedOut();
    throw new FeedError(name, `error reading the response from ${shown}: ${causeMessage(error)}`, { cause: error });
  }
  return parseFeed(body, name, { contentType: response.headers.get('content-type') ?? undefined, baseUrl: response.url || url });
}

async function readBody(response: Response, maxBytes: number, name: string, shown: string): Promise<Buffer> {
  const tooLarge = () => new FeedError(name, `response from ${shown} is larger than ${maxBytes} bytes`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
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
      throw tooLarge();
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
