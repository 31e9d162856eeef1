/** `daybreak feed`: what a feed yields, normalised, and for a newsletter why each item is in or out of the next edition. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Article, FeedSource } from '../../articles/article';
import type { LoadedFeed } from '../../articles/load';
import type { ExplainReason } from '../../articles/pick';
import type { LoadedConfig } from '../../config/load';
import { systemClock } from '../../core/clock';
import { DaybreakError, codeOf, isDaybreakError } from '../../core/errors';
import type { Runtime } from '../../app/runtime';
import { loadCliConfig, quietLogs, withRuntime, type GlobalOptions } from '../context';

// Feed parsing, picking and scheduling are loaded when the command runs, so `daybreak --help` stays light.
/* eslint-disable @typescript-eslint/no-require-imports */
const load = () => require('../../articles/load') as typeof import('../../articles/load');
const pick = () => require('../../articles/pick') as typeof import('../../articles/pick');
const schedule = () => require('../../delivery/schedule') as typeof import('../../delivery/schedule');
const editions = () => require('../../delivery/edition') as typeof import('../../delivery/edition');
const build = () => require('../../delivery/build-edition') as typeof import('../../delivery/build-edition');
const runEdition = () => require('./run-edition') as typeof import('./run-edition');
/* eslint-enable @typescript-eslint/no-require-imports */

/** One row of output: an article or an item the parser left out, with its verdict. */
interface FeedRow {
  /** The input as given on the command line (newsletter id, URL or file), so several inputs can share one stream. */
  input: string;
  feedIndex: number;
  id: string | null;
  title: string | null;
  link: string | null;
  author: string | null;
  section: string | null;
  published: string | null;
  image: string | null;
  picked: boolean;
  reason: ExplainReason | 'parsed';
  detail: string;
}

interface FeedOptions {
  json?: boolean;
  date?: string;
}

/** Adds `daybreak feed` to the program: one call in program.ts. */
export function registerFeed(program: Command, globals: () => GlobalOptions): void {
  program
    .command('feed')
    .description("show what a feed yields, normalised; for a newsletter, which items its next edition picks and why each other one is left out")
    .argument('<inputs...>', 'newsletter id (from the config), feed URL, or feed file')
    .option('--json', 'one JSON object per item (JSON Lines), with its input, picked and reason; an input that cannot be read gets {input, error, code}')
    .option('--date <YYYY-MM-DD>', "for a newsletter: the edition's date in its time zone (default: today)")
    .action((inputs: string[], opts: FeedOptions) => feed(inputs, opts, globals()));
}

/** Shows each input in turn; a bad one prints one line on stderr and sets exit status 2, the rest still run. */
export async function feed(inputs: string[], opts: FeedOptions, globals: GlobalOptions): Promise<void> {
  const config = loadCliConfig(globals);
  const newsletterIds = new Set(config.newsletters.map((n) => n.id));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  let failed = 0;
  const show = async (input: string, runtime?: Runtime) => {
    try {
      await showInput(input, config, newsletterIds, opts, out, runtime);
    } catch (error) {
      // A feed that cannot be read or an input that is not one: one line, never a stack.
      const code = codeOf(error);
      if (!isDaybreakError(error) || (code !== 'feed-unreadable' && code !== 'bad-input')) throw error;
      failed++;
      process.stderr.write(`daybreak: ${error.message}\n`);
      // JSON Lines readers get their line for the input too: one per item, or one saying why there are none.
      if (opts.json) out(JSON.stringify({ input, error: error.message, code }));
    }
  };
  if (inputs.some((i) => newsletterIds.has(i))) {
    // Only a newsletter needs Redis (its last cut-off and the articles it already sent).
    await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
      for (const input of inputs) await show(input, runtime);
    });
  } else {
    for (const input of inputs) await show(input);
  }
  if (failed > 0) process.exitCode = 2;
}

async function showInput(input: string, config: LoadedConfig, newsletterIds: Set<string>, opts: FeedOptions, out: (line: string) => void, runtime?: Runtime): Promise<void> {
  if (runtime && newsletterIds.has(input)) return showNewsletter(runtime, input, opts, out);
  if (opts.date) throw new DaybreakError('bad-input', `--date applies to a newsletter, and "${input}" is not one`);
  const source = adHocSource(input, config, newsletterIds);
  const feed = await load().loadFeed(source, { clock: systemClock, baseDir: process.cwd(), publicUrl: config.publicUrl });
  const { inFeedOrder, skipDetail } = pick();
  const rows = inFeedOrder(feed.articles, feed.skipped).map((e) =>
    'skipped' in e ? skippedRow(input, e.feedIndex, e.skipped, e.skipped.reason, skipDetail(e.skipped)) : articleRow(input, e.feedIndex, e.article, false, 'parsed', 'read'),
  );
  if (opts.json) return rows.forEach((r) => out(JSON.stringify(r)));
  out(header(feed));
  for (const row of rows) out(block(row));
}

async function showNewsletter(runtime: Runtime, newsletterId: string, opts: FeedOptions, out: (line: string) => void): Promise<void> {
  const { editionSlot } = schedule();
  const { pickInputs } = build();
  const { resolveLocalDate } = runEdition();
  const { editionIdFor } = editions();
  const newsletter = runtime.newsletter(newsletterId);
  const now = runtime.clock.now();
  const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
  // The same inputs planEdition gathers: the feed, the cut-off, the previous cut-off, what was sent.
  const scheduledFor = editionSlot(newsletter.cron, newsletter.timezone, localDate);
  const { feed, cutoff, lastCutoff, alreadySent } = await pickInputs(runtime, newsletter, { localDate, scheduledFor }, now);
  const { result, items } = pick().explainPick({
    articles: feed.articles,
    skipped: feed.skipped,
    section: newsletter.source.section,
    cutoff,
    lastCutoff,
    alreadySent,
    rules: { maxArticles: newsletter.maxArticles, lookbackHours: newsletter.lookbackHours },
  });
  const rows = items.map((i) => (i.article ? articleRow(newsletterId, i.feedIndex, i.article, i.picked, i.reason, i.detail) : skippedRow(newsletterId, i.feedIndex, i.skipped, i.reason, i.detail)));
  if (opts.json) return rows.forEach((r) => out(JSON.stringify(r)));
  out(header(feed));
  out(
    `Edition ${editionIdFor(newsletter.id, localDate)}: articles published after ${iso(result.since)} up to ${iso(result.cutoff)}` +
      `${newsletter.source.section ? `, section "${newsletter.source.section}"` : ''}, at most ${newsletter.maxArticles}: ${result.articles.length} picked`,
  );
  for (const row of rows) out(block(row));
}

/** A URL or a file named on the command line, with the config's size limit. */
function adHocSource(input: string, config: LoadedConfig, newsletterIds: Set<string>): FeedSource {
  const limits = { maxBytes: config.feedMaxBytes };
  if (/^https?:\/\//i.test(input)) {
    try {
      new URL(input);
    } catch {
      throw new DaybreakError('bad-input', `"${input}" is not a valid URL`);
    }
    return { kind: 'url', url: input, ...limits };
  }
  if (!fs.existsSync(input)) {
    throw new DaybreakError('bad-input', `"${input}" is not a newsletter id (configured: ${[...newsletterIds].join(', ')}), an http(s) URL, or a file that exists`);
  }
  return { kind: isSampleFile(input, config.feedMaxBytes) ? 'sample' : 'file', path: input, ...limits };
}

/**
 * Daybreak's own sample stories (`samples/business-news.json`, a config's `source.sample`) are JSON
 * with an `articles` list and no JSON Feed `version`: shown as the newsletter reading them sees them.
 */
function isSampleFile(file: string, maxBytes: number): boolean {
  if (!file.toLowerCase().endsWith('.json')) return false;
  try {
    if (fs.statSync(file).size > maxBytes) return false;
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { articles?: unknown }).articles) && !('version' in parsed);
  } catch {
    // Unreadable or not JSON: the feed reader says what is wrong with it.
    return false;
  }
}

function header(feed: LoadedFeed): string {
  const left = feed.skipped.length ? `, ${feed.skipped.length} left out` : '';
  return `Feed ${feed.source}${feed.title ? ` ("${feed.title}")` : ''}: ${feed.articles.length + feed.skipped.length} items, ${feed.articles.length} read${left}`;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

function articleRow(input: string, feedIndex: number, a: Article, picked: boolean, reason: FeedRow['reason'], detail: string): FeedRow {
  return {
    input,
    feedIndex,
    id: a.id,
    title: a.title,
    link: a.url,
    author: a.author ?? null,
    section: a.section ?? null,
    published: iso(a.publishedAt),
    image: a.imageUrl ?? null,
    picked,
    reason,
    detail,
  };
}

function skippedRow(input: string, feedIndex: number, s: { id?: string; title?: string; link?: string } | undefined, reason: FeedRow['reason'], detail: string): FeedRow {
  return { input, feedIndex, id: s?.id ?? null, title: s?.title ?? null, link: s?.link ?? null, author: null, section: null, published: null, image: null, picked: false, reason, detail };
}

/** One readable block: a headline line with the verdict, then the normalised fields. */
function block(row: FeedRow): string {
  const verdict = row.reason === 'parsed' ? `${row.feedIndex + 1}.` : row.picked ? `PICKED ${row.detail.replace(/^picked: number (\d+).*$/, '#$1')}` : `out: ${row.reason.replace(/-/g, ' ')}`;
  const lines = [`[${verdict}] ${row.title ?? '(no title)'}`];
  const meta = [row.published && `published ${row.published}`, row.section && `section ${row.section}`, row.author && `by ${row.author}`].filter(Boolean);
  if (meta.length) lines.push(`    ${meta.join(' · ')}`);
  if (row.link) lines.push(`    link   ${row.link}`);
  if (row.id && row.id !== row.link) lines.push(`    id     ${row.id}`);
  if (row.image) lines.push(`    image  ${row.image}`);
  if (!row.picked && row.reason !== 'parsed') lines.push(`    why    ${row.detail}`);
  return lines.join('\n');
}
