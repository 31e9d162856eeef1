import { DaybreakError } from '../core/errors';
import type { Article } from '../articles/article';
import { pickArticles } from '../articles/pick';
import { sampleSourceRefusal } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import type { EditionContent, EditionHeaders, RenderedEdition } from '../render/contract';
import { buildMimeTemplate } from '../render/mime-template';
import { readingOrder } from '../render/reading-order';
import { senderDomain } from './addresses';
import { unsubscribeMailbox } from './personalise';
import type { Edition } from './edition';
import type { Runtime } from './runtime';
import { dateLabel, editionCutoff, isStale } from './schedule';

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


export function editionHeaders(runtime: Runtime, newsletter: NewsletterConfig, subject: string, options: { perReaderMailto?: boolean } = {}): EditionHeaders {
  const domain = senderDomain(newsletter.from);
  return {
    from: newsletter.from,
    replyTo: newsletter.replyTo,
    subject,
    listId: `${newsletter.name} <${newsletter.id}.${domain}>`,
    messageIdDomain: domain,
    unsubscribeMailtoPerReader: options.perReaderMailto ?? unsubscribeMailbox(runtime.config) !== undefined,
  };
}

/** Picks the day's articles and lays out the content; reads Redis and the feed, writes nothing. */
export async function planEdition(runtime: Runtime, edition: Pick<Edition, 'id' | 'newsletterId' | 'localDate' | 'scheduledFor'>): Promise<EditionPlan> {
  const newsletter = runtime.newsletter(edition.newsletterId);
  const now = runtime.clock.now();
  const refusal = sampleSourceRefusal({ ...runtime.config, newsletters: [newsletter] });
  if (refusal) throw new DaybreakError('config-invalid', refusal, { context: { edition: edition.id } });
  // Loaded on first build only (require, not import(), so tsx, jest and dist all resolve it alike):
  // feed parsing and MJML are heavy, and a send-only worker never needs them.
  const { loadArticles } = require('../articles/load') as typeof import('../articles/load');
  const articles = await loadArticles(newsletter.source, {
    clock: runtime.clock,
    baseDir: runtime.config.configDir,
    publicUrl: runtime.config.publicUrl,
    onSkipped: (item, source) => runtime.logger.warn({ editionId: edition.id, feed: source, feedItem: item }, `feed ${source}: ${item.message}`),
  });
  const cutoff = editionCutoff(edition.scheduledFor, edition.localDate, newsletter.timezone, now);
  const lastCutoff = await runtime.editions.previousCutoff(newsletter.id, edition.scheduledFor);
  const alreadySent = await runtime.editions.alreadySentArticles(newsletter.id, articles.map((a) => a.id));
  const picked = pickArticles({ articles, cutoff, lastCutoff, alreadySent, rules: { maxArticles: newsletter.maxArticles, lookbackHours: newsletter.lookbackHours } });
  // Stored and shown in the order the email reads, so "story 3" is the same in preview, status and the email.
  const inReadingOrder = readingOrder(picked.articles);
  const publicUrl = runtime.config.publicUrl.replace(/\/$/, '');
  return {
    articles: inReadingOrder,
    since: picked.since,
    cutoff: picked.cutoff,
    considered: picked.considered,
    content: {
      editionId: edition.id,
      newsletter: { id: newsletter.id, name: newsletter.name, description: newsletter.description },
      organisation: runtime.config.organisation,
      dateLabel: dateLabel(edition.localDate, newsletter.timezone),
      localDate: edition.localDate,
      articles: inReadingOrder,
      subjectTemplate: newsletter.subject,
      links: {
        viewInBrowser: `${publicUrl}/archive/${newsletter.id}/${edition.localDate}`,
        signup: `${publicUrl}/subscribe`,
        archive: `${publicUrl}/archive`,
      },
    },
  };
}

export type BuildOutcome = 'sending' | 'skipped' | 'held' | 'already';

/**
 * Build step of an edition job: staleness guard, pick, render ONCE, store. Safe to repeat: an
 * edition whose content is stored is never re-picked (a retry must not change what readers get).
 */
export async function buildEdition(runtime: Runtime, editionId: string): Promise<BuildOutcome> {
  const edition = await runtime.editions.get(editionId);
  if (!edition) throw new EditionBuildError(editionId, 'does not exist');
  if (edition.state !== 'created' && edition.state !== 'building') return 'already';
  const newsletter = runtime.newsletter(edition.newsletterId);
  const now = runtime.clock.now();
  const log = runtime.logger.child({ editionId });

  if (edition.trigger === 'schedule' && !edition.forced && isStale(edition.scheduledFor, now, newsletter.sendWindowHours)) {
    const reason = `not started within ${newsletter.sendWindowHours} h of its ${edition.scheduledFor.toISOString()} slot; held for ops (\`daybreak run-edition ${newsletter.id} --date ${edition.localDate} --force\` sends it)`;
    await runtime.editions.apply(editionId, 'hold', { at: now, detail: { reason }, fields: { reason } });
    log.warn({ reason }, 'edition held: too late to send');
    return 'held';
  }

  await runtime.editions.apply(editionId, 'build', { at: now });
  const plan = await planEdition(runtime, edition);
  if (plan.articles.length === 0 && newsletter.skipWhenEmpty) {
    const reason = `no new articles between ${plan.since.toISOString()} and ${plan.cutoff.toISOString()} (${plan.considered} in the feed)`;
    await runtime.editions.apply(editionId, 'skip', { at: now, detail: { reason }, fields: { reason, since: plan.since, cutoff: plan.cutoff, finishedAt: now } });
    log.info({ reason }, 'edition skipped');
    return 'skipped';
  }

  const { renderEdition } = require('../render/render-edition') as typeof import('../render/render-edition');
  const rendered: RenderedEdition = await renderEdition(plan.content);
  const mime = buildMimeTemplate(rendered, editionHeaders(runtime, newsletter, rendered.subject));
  for (const warning of rendered.warnings) log.warn({ warning }, 'render warning');
  // Content, articles marked as sent, fields, state and history: one atomic call.
  const stored = await runtime.editions.storeBuild(editionId, {
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
  log.info({ articles: plan.articles.length, subject: rendered.subject, mjmlMs: Math.round(rendered.timings.mjmlMs) }, 'edition rendered');
  return 'sending';
}
