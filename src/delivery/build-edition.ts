/** An edition's build: staleness guard, pick the day's articles, render once, store, start sending. */
import { DaybreakError } from '../core/errors';
import type { Article } from '../articles/article';
import type { LoadedFeed } from '../articles/load';
import { pickArticles } from '../articles/pick';
import { sampleSourceRefusal } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import type { EditionContent, EditionHeaders, RenderedEdition } from '../render/contract';
import { buildMimeTemplate } from '../render/mime-template';
import { readingOrder } from '../render/reading-order';
import { publicLink, senderDomain } from '../mail/addresses';
import { unsubscribeMailbox } from '../mail/personalise';
import type { Edition } from './edition';
import { dateLabel, editionCutoff, isStale } from './schedule';
import { storyLinksFor } from './story-links';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from './edition-store';

export interface BuildDeps {
  editions: Pick<EditionStore, 'get' | 'apply' | 'storeBuild' | 'previousCutoff' | 'alreadySentArticles' | 'saveSource' | 'waves'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
  config: Pick<LoadedConfig, 'publicUrl' | 'organisation' | 'configDir' | 'allowSampleSources' | 'secret' | 'delivery' | 'bounces'>;
}

export class EditionBuildError extends DaybreakError {
  constructor(readonly editionId: string, message: string, options?: { cause?: unknown }) {
    super('edition-failed', `Edition ${editionId}: ${message}`, { context: { edition: editionId }, cause: options?.cause });
    this.name = 'EditionBuildError';
  }
}

/** What an edition will contain, before anything is stored: used by the builder, dry runs and previews. */
export interface EditionPlan {
  articles: Article[];
  since: Date;
  cutoff: Date;
  considered: number;
  content: EditionContent;
}


export function editionHeaders(deps: Pick<BuildDeps, 'config'>, newsletter: NewsletterConfig, subject: string, options: { perReaderMailto?: boolean } = {}): EditionHeaders {
  const domain = senderDomain(newsletter.from);
  return {
    from: newsletter.from,
    replyTo: newsletter.replyTo,
    subject,
    listId: `${newsletter.name} <${newsletter.id}.${domain}>`,
    messageIdDomain: domain,
    unsubscribeMailtoPerReader: options.perReaderMailto ?? unsubscribeMailbox(deps.config) !== undefined,
  };
}

/**
 * What picking an edition's articles needs: the feed (with the items it could not read), the
 * cut-off, the previous edition's cut-off, and which articles were sent before. Read only; the
 * builder, dry runs, previews and `daybreak feed` all gather them here.
 */
export async function pickInputs(deps: Pick<BuildDeps, 'editions' | 'clock' | 'config'>, newsletter: NewsletterConfig, edition: Pick<Edition, 'localDate' | 'scheduledFor'>, now: Date): Promise<{ feed: LoadedFeed; cutoff: Date; lastCutoff?: Date; alreadySent: Set<string> }> {
  // Loaded on first build only (require, not import(), so tsx, jest and dist all resolve it alike):
  // feed parsing and MJML are heavy, and a send-only worker never needs them.
  const { loadFeed } = require('../articles/load') as typeof import('../articles/load');
  const feed = await loadFeed(newsletter.source, { clock: deps.clock, baseDir: deps.config.configDir, publicUrl: deps.config.publicUrl });
  const cutoff = editionCutoff(edition.scheduledFor, edition.localDate, newsletter.timezone, now);
  const lastCutoff = await deps.editions.previousCutoff(newsletter.id, edition.scheduledFor);
  const alreadySent = await deps.editions.alreadySentArticles(newsletter.id, feed.articles.map((a) => a.id));
  return { feed, cutoff, lastCutoff, alreadySent };
}

/** Picks the day's articles and lays out the content; reads Redis and the feed, writes nothing. */
export async function planEdition(deps: BuildDeps, edition: Pick<Edition, 'id' | 'newsletterId' | 'localDate' | 'scheduledFor'>): Promise<EditionPlan> {
  const newsletter = deps.newsletter(edition.newsletterId);
  const now = deps.clock.now();
  const refusal = sampleSourceRefusal({ ...deps.config, newsletters: [newsletter] });
  if (refusal) throw new DaybreakError('config-invalid', refusal, { context: { edition: edition.id } });
  const { feed, cutoff, lastCutoff, alreadySent } = await pickInputs(deps, newsletter, edition, now);
  for (const item of feed.skipped) deps.logger.warn({ editionId: edition.id, feed: feed.source, feedItem: item }, `feed ${feed.source}: ${item.message}`);
  const articles = feed.articles;
  const picked = pickArticles({ articles, cutoff, lastCutoff, alreadySent, rules: { maxArticles: newsletter.maxArticles, lookbackHours: newsletter.lookbackHours } });
  // Stored and shown in the order the email reads, so "story 3" is the same in preview, status and the email.
  const inReadingOrder = readingOrder(picked.articles);
  const link = (pathname: string) => publicLink(deps.config.publicUrl, pathname);
  return {
    articles: inReadingOrder,
    since: picked.since,
    cutoff: picked.cutoff,
    considered: picked.considered,
    content: {
      editionId: edition.id,
      newsletter: { id: newsletter.id, name: newsletter.name, description: newsletter.description },
      organisation: deps.config.organisation,
      dateLabel: dateLabel(edition.localDate, newsletter.timezone),
      localDate: edition.localDate,
      articles: inReadingOrder,
      subjectTemplate: newsletter.subject,
      links: {
        viewInBrowser: link(`/archive/${newsletter.id}/${edition.localDate}`),
        signup: link('/subscribe'),
        archive: link('/archive'),
      },
      // Written once per edition: the same links in every copy (docs/editorial.md).
      storyLinks: storyLinksFor({ secret: deps.config.secret, publicUrl: deps.config.publicUrl, newsletter, editionId: edition.id, articles: inReadingOrder }),
      readerLinks: newsletter.clicks.redirect && newsletter.clicks.perReader,
    },
  };
}

export type BuildOutcome = 'sending' | 'awaiting-approval' | 'skipped' | 'held' | 'already';

/**
 * Build step of an edition job: staleness guard, pick, render ONCE, store. Safe to repeat: an
 * edition whose content is stored is never re-picked (a retry must not change what readers get).
 */
export async function buildEdition(deps: BuildDeps, editionId: string): Promise<BuildOutcome> {
  const edition = await deps.editions.get(editionId);
  if (!edition) throw new EditionBuildError(editionId, 'does not exist');
  if (edition.state !== 'created' && edition.state !== 'building') return 'already';
  const newsletter = deps.newsletter(edition.newsletterId);
  const now = deps.clock.now();
  const log = deps.logger.child({ editionId });

  // Delivered in waves: the edition is built while its last wave can still go; each wave's own
  // guard holds the ones that cannot (fanout.ts).
  const waves = await deps.editions.waves(editionId);
  const lastSlot = waves?.length ? (waves[waves.length - 1] as { due: Date }).due : edition.scheduledFor;
  if (edition.trigger === 'schedule' && !edition.forced && isStale(lastSlot, now, newsletter.sendWindowHours)) {
    const reason = `not started within ${newsletter.sendWindowHours} h of its ${lastSlot.toISOString()} slot${waves ? ' (its last wave)' : ''}; held for ops (\`daybreak run-edition ${newsletter.id} --date ${edition.localDate} --force\` sends it)`;
    await deps.editions.apply(editionId, 'hold', { at: now, detail: { reason }, fields: { reason } });
    log.warn({ reason }, 'edition held: too late to send');
    return 'held';
  }

  await deps.editions.apply(editionId, 'build', { at: now });
  const plan = await planEdition(deps, edition);
  if (plan.articles.length === 0 && newsletter.skipWhenEmpty) {
    const reason = `no new articles between ${plan.since.toISOString()} and ${plan.cutoff.toISOString()} (${plan.considered} in the feed)`;
    await deps.editions.apply(editionId, 'skip', { at: now, detail: { reason }, fields: { reason, since: plan.since, cutoff: plan.cutoff, finishedAt: now } });
    log.info({ reason }, 'edition skipped');
    return 'skipped';
  }

  const { renderEdition } = require('../render/render-edition') as typeof import('../render/render-edition');
  const rendered: RenderedEdition = await renderEdition(plan.content);
  const mime = buildMimeTemplate(rendered, editionHeaders(deps, newsletter, rendered.subject));
  for (const warning of rendered.warnings) log.warn({ warning }, 'render warning');
  // Under the editors' say, it is stored and held for them (docs/editorial.md); ops forcing a held
  // edition out have decided already.
  const gated = newsletter.approval !== 'none' && !edition.forced;
  // The plan is kept first, so an editor's change can re-render from it; harmless if the store below never happens.
  if (gated) await deps.editions.saveSource(editionId, plan.content);
  // Content, articles marked as sent, fields, state and history: one atomic call.
  const stored = await deps.editions.storeBuild(editionId, {
    state: gated ? 'awaiting-approval' : 'sending',
    newsletterId: newsletter.id,
    rendered,
    mimeTemplateJson: JSON.stringify(mime),
    articles: plan.articles.map((a) => ({ id: a.id, title: a.title, url: a.url, section: a.section })),
    since: plan.since,
    cutoff: plan.cutoff,
    startedAt: now,
    mjmlMs: rendered.timings.mjmlMs,
  }, now);
  if (!stored.ok) return 'already';
  log.info({ articles: plan.articles.length, subject: rendered.subject, mjmlMs: Math.round(rendered.timings.mjmlMs), awaitingApproval: gated }, 'edition rendered');
  return gated ? 'awaiting-approval' : 'sending';
}
