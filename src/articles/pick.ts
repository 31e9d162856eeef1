/** Which of a feed's articles go into an edition (pure), and why each other one does not. */
import type { Article } from './article';
import type { SkipReason, SkippedItem } from './feed-parser';

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
  return decide(input).result;
}

/** Why one article is in or out, index-aligned with the input articles. */
type Verdict =
  | { kind: 'picked'; position: number }
  | { kind: 'already-sent' }
  | { kind: 'too-old' }
  | { kind: 'after-cutoff' }
  | { kind: 'duplicate'; of: Article; sameId: boolean }
  | { kind: 'over-max-articles'; rank: number };

/** The one implementation of the rules, so pickArticles and explainPick can never disagree. */
function decide(input: PickInput): { result: PickResult; verdicts: Verdict[] } {
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

  const verdicts: Verdict[] = new Array<Verdict>(input.articles.length);
  const excluded = { alreadySent: 0, outOfWindow: 0, duplicates: 0 };
  const candidates: { article: Article; index: number }[] = [];
  input.articles.forEach((article, index) => {
    const at = article.publishedAt.getTime();
    if (input.alreadySent.has(article.id)) {
      excluded.alreadySent++;
      verdicts[index] = { kind: 'already-sent' };
    } else if (!(at > from && at <= to)) {
      // NaN fails both comparisons, so an invalid date counts as out of window.
      excluded.outOfWindow++;
      verdicts[index] = { kind: at > to ? 'after-cutoff' : 'too-old' };
    } else candidates.push({ article, index });
  });

  // Sort before de-duplicating, so the copy kept is the one that would lead, not whichever came first.
  candidates.sort((a, b) => editionOrder(a.article, b.article));
  const keptById = new Map<string, Article>();
  const keptByUrl = new Map<string, Article>();
  const unique: Article[] = [];
  for (const { article, index } of candidates) {
    const url = urlKey(article.url);
    const of = keptById.get(article.id) ?? keptByUrl.get(url);
    if (of) {
      excluded.duplicates++;
      verdicts[index] = { kind: 'duplicate', of, sameId: keptById.has(article.id) };
      continue;
    }
    keptById.set(article.id, article);
    keptByUrl.set(url, article);
    unique.push(article);
    verdicts[index] = unique.length <= rules.maxArticles ? { kind: 'picked', position: unique.length } : { kind: 'over-max-articles', rank: unique.length };
  }

  return {
    result: {
      articles: unique.slice(0, rules.maxArticles),
      since,
      cutoff: new Date(to),
      considered: input.articles.length,
      excluded,
    },
    verdicts,
  };
}

// ---------------------------------------------------------------------------------------------
// Explaining a pick: "why isn't my story in this morning's email?"

export type ExplainReason =
  | 'picked'
  | 'already-sent'
  | 'too-old'
  | 'after-cutoff'
  | 'duplicate'
  | 'over-max-articles'
  | 'wrong-section'
  | SkipReason;

export interface ExplainedItem {
  /** Position in the feed, from 0. */
  feedIndex: number;
  /** The article; absent for an item left out while reading the feed (then `skipped` says what is known of it). */
  article?: Article;
  skipped?: SkippedItem;
  picked: boolean;
  reason: ExplainReason;
  /** One line for a person, e.g. `already sent in an earlier edition`. */
  detail: string;
  /** Place in the edition, from 1, when picked. */
  position?: number;
}

export interface ExplainInput extends PickInput {
  /** The newsletter's section filter (a topical or regional newsletter over a broad feed). */
  section?: string;
  /** Items of the feed that yielded no article (parseFeedDetailed), by feed index. */
  skipped?: readonly SkippedItem[];
}

export interface Explanation {
  /** Exactly what pickArticles returns for the articles in the section. */
  result: PickResult;
  /** Every item of the feed, in feed order. */
  items: ExplainedItem[];
}

/** A regional or topical newsletter over a broad feed: match the section or the region, ignoring case. */
export function matchesSection(article: Article, wanted: string): boolean {
  const key = wanted.trim().toLowerCase();
  return article.section?.trim().toLowerCase() === key || article.region?.trim().toLowerCase() === key;
}

/**
 * Every item of a feed with the reason it is in or out of the next edition: the section filter
 * first, then pickArticles' own rules (already sent, outside the window, duplicate, over
 * maxArticles). Items the parser left out (no date...) keep their place in feed order.
 */
export function explainPick(input: ExplainInput): Explanation {
  const { section } = input;
  const inSectionFlags = input.articles.map((a) => section === undefined || matchesSection(a, section));
  const { result, verdicts } = decide({ ...input, articles: input.articles.filter((_, i) => inSectionFlags[i]) });
  let nextVerdict = 0;

  const explained = inFeedOrder(input.articles, input.skipped ?? []).map((entry): ExplainedItem => {
    if ('skipped' in entry) return { ...entry, picked: false, reason: entry.skipped.reason, detail: skipDetail(entry.skipped) };
    const { article, feedIndex, articleIndex } = entry;
    const at = article.publishedAt;
    const verdict = inSectionFlags[articleIndex] ? verdicts[nextVerdict++] : undefined;
    if (!verdict) {
      const has = [article.section && `section "${article.section}"`, article.region && `region "${article.region}"`].filter(Boolean).join(', ') || 'no section';
      return { feedIndex, article, picked: false, reason: 'wrong-section', detail: `wrong section: ${has}, not this newsletter's "${section ?? ''}"` };
    }
    const out = (reason: ExplainReason, detail: string): ExplainedItem => ({ feedIndex, article, picked: false, reason, detail });
    switch (verdict.kind) {
      case 'picked':
        return { feedIndex, article, picked: true, reason: 'picked', detail: `picked: number ${verdict.position} in the edition`, position: verdict.position };
      case 'already-sent':
        return out('already-sent', 'already sent in an earlier edition of this newsletter');
      case 'too-old':
        return out('too-old', `too old: published ${iso(at)}, not after ${iso(result.since)} (the previous edition's cut-off, or the look-back window)`);
      case 'after-cutoff':
        return out('after-cutoff', `after the cut-off: published ${iso(at)}, after ${iso(result.cutoff)}; it waits for the next edition`);
      case 'duplicate':
        return out('duplicate', `duplicate: same ${verdict.sameId ? 'id' : 'link'} as "${verdict.of.title}", which is kept`);
      case 'over-max-articles':
        return out('over-max-articles', `over maxArticles: ranked ${verdict.rank}, the edition takes ${input.rules.maxArticles}`);
    }
  });
  return { result, items: explained };
}

const iso = (d: Date) => d.toISOString().replace(/\.000Z$/, 'Z');

/**
 * A parsed feed back in document order: parseFeedDetailed returns the articles in feed order with
 * the skipped items taken out, so article k sits at the k-th feed index no skipped item holds.
 */
export function inFeedOrder(
  articles: readonly Article[],
  skipped: readonly SkippedItem[],
): ({ feedIndex: number; article: Article; articleIndex: number } | { feedIndex: number; skipped: SkippedItem })[] {
  const left = [...skipped].sort((a, b) => a.index - b.index);
  const out: ({ feedIndex: number; article: Article; articleIndex: number } | { feedIndex: number; skipped: SkippedItem })[] = [];
  let feedIndex = 0;
  let next = 0;
  articles.forEach((article, articleIndex) => {
    while (next < left.length && left[next].index <= feedIndex) {
      feedIndex = Math.max(feedIndex, left[next].index + 1);
      out.push({ feedIndex: left[next].index, skipped: left[next++] });
    }
    out.push({ feedIndex: feedIndex++, article, articleIndex });
  });
  while (next < left.length) out.push({ feedIndex: left[next].index, skipped: left[next++] });
  return out;
}

/** What a person reads for an item the parser left out. */
export function skipDetail(item: SkippedItem): string {
  switch (item.reason) {
    case 'unreadable-date':
      return `unreadable date ${JSON.stringify(item.date ?? '')}: left out of every edition until the feed fixes it`;
    case 'no-date':
      return 'no date: an undated item cannot be placed in a day';
    case 'no-link':
      return 'no http(s) link';
    case 'no-title':
      return 'no title';
  }
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
