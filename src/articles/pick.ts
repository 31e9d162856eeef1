import type { Article } from './article';

export interface PickRules {
  maxArticles: number;
  lookbackHours: number;
}

export interface PickInput {
  articles: Article[];
  /** The edition's "news up to" moment: articles published after it wait for the next edition. */
  cutoff: Date;
  /** The previous edition's cutoff; absent for a newsletter's first edition. */
  lastCutoff?: Date;
  /** Ids already sent in this newsletter: never sent twice, even if the feed re-dates them. */
  alreadySent: ReadonlySet<string>;
  rules: PickRules;
}

export interface PickResult {
  /** In edition order: featured first, then newest first. */
  articles: Article[];
  since: Date;
  cutoff: Date;
  /** Articles offered, before any exclusion. */
  considered: number;
  /** Each excluded article is counted once, under the first reason that applies, in this order. */
  excluded: { alreadySent: number; outOfWindow: number; duplicates: number };
}

const HOUR_MS = 3_600_000;

/**
 * The day's articles: published in (since, cutoff], where since is the previous edition's
 * cutoff so consecutive editions tile time with no gap and no overlap (the lookback window only
 * applies to a first edition, or if the previous cutoff is not before this one). Pure and
 * deterministic: the same input always gives the same edition, whatever the input order.
 */
export function pickArticles(input: PickInput): PickResult {
  const { cutoff, lastCutoff, rules } = input;
  if (Number.isNaN(cutoff.getTime())) throw new RangeError('pickArticles: cutoff is an invalid date');
  if (!Number.isInteger(rules.maxArticles) || rules.maxArticles < 0) {
    throw new RangeError(`pickArticles: maxArticles must be a non-negative integer, got ${rules.maxArticles}`);
  }
  if (!(rules.lookbackHours > 0)) throw new RangeError(`pickArticles: lookbackHours must be positive, got ${rules.lookbackHours}`);

  const since =
    lastCutoff && !Number.isNaN(lastCutoff.getTime()) && lastCutoff.getTime() < cutoff.getTime()
      ? new Date(lastCutoff.getTime())
      : new Date(cutoff.getTime() - rules.lookbackHours * HOUR_MS);
  const from = since.getTime();
  const to = cutoff.getTime();

  const excluded = { alreadySent: 0, outOfWindow: 0, duplicates: 0 };
  const candidates: Article[] = [];
  for (const article of input.articles) {
    const at = article.publishedAt.getTime();
    if (input.alreadySent.has(article.id)) excluded.alreadySent++;
    // NaN fails both comparisons, so an invalid date counts as out of window.
    else if (!(at > from && at <= to)) excluded.outOfWindow++;
    else candidates.push(article);
  }

  // Sort before de-duplicating, so the copy kept is the one that would lead, not whichever came first.
  candidates.sort(editionOrder);
  const seenIds = new Set<string>();
  const seenUrls = new Set<string>();
  const unique: Article[] = [];
  for (const article of candidates) {
    const url = urlKey(article.url);
    if (seenIds.has(article.id) || seenUrls.has(url)) {
      excluded.duplicates++;
      continue;
    }
    seenIds.add(article.id);
    seenUrls.add(url);
    unique.push(article);
  }

  return {
    articles: unique.slice(0, rules.maxArticles),
    since,
    cutoff: new Date(to),
    considered: input.articles.length,
    excluded,
  };
}

/** Featured first, then newest first, then by id (code-unit order: locale-independent). */
export function editionOrder(a: Article, b: Article): number {
  if (Boolean(a.featured) !== Boolean(b.featured)) return a.featured ? -1 : 1;
  const byDate = b.publishedAt.getTime() - a.publishedAt.getTime();
  if (byDate !== 0) return byDate;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The same page under a differently written URL (host case, default port, #fragment) is one article. */
function urlKey(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.hash = '';
    return parsed.href;
  } catch {
    return url;
  }
}
