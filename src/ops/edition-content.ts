/** A day's edition as readers see it: the stored content once it is built, else what a build now would render. */
import { planEdition, type BuildDeps } from '../delivery/build-edition';
import { editionIdFor, type EditionArticle } from '../delivery/edition';
import type { EditionStore } from '../delivery/edition-store';
import { editionSlot } from '../delivery/schedule';
import { withDirectStoryLinks } from '../delivery/story-links';
import type { RenderedEdition } from '../render/contract';

export interface EditionContentDeps extends BuildDeps {
  editions: BuildDeps['editions'] & Pick<EditionStore, 'content'>;
}

export interface EditionContent {
  editionId: string;
  rendered: RenderedEdition;
  articles: ReadonlyArray<Pick<EditionArticle, 'title' | 'section'>>;
  /** `stored`: the edition as readers got it; `fresh`: what a build would pick and render now. */
  source: 'stored' | 'fresh';
  /** In words: which window the articles came from, or that the edition was built already. */
  window: string;
}

/**
 * Reads Redis and (for a fresh one) the feed; writes nothing. Used by `preview` and `test-send`,
 * whose copies count nothing: their story links go straight to the articles, not through the
 * click redirect.
 */
export async function editionContent(deps: EditionContentDeps, newsletterId: string, localDate: string): Promise<EditionContent> {
  const newsletter = deps.newsletter(newsletterId);
  const editionId = editionIdFor(newsletter.id, localDate);
  const direct = (rendered: RenderedEdition, articles: ReadonlyArray<{ id: string; url: string }>) => withDirectStoryLinks(rendered, { secret: deps.config.secret, publicUrl: deps.config.publicUrl, editionId, articles });
  const existing = await deps.editions.get(editionId);
  const stored = existing ? await deps.editions.content(editionId) : undefined;
  if (existing && stored) return { editionId, rendered: direct(stored, existing.articles), articles: existing.articles, source: 'stored', window: `already built, ${existing.state}; showing what readers got` };
  const plan = await planEdition(deps, { id: editionId, newsletterId: newsletter.id, localDate, scheduledFor: editionSlot(newsletter.cron, newsletter.timezone, localDate) });
  // MJML loads only where an edition is rendered.
  const { renderEdition } = require('../render/render-edition') as typeof import('../render/render-edition');
  return { editionId, rendered: direct(await renderEdition(plan.content), plan.articles), articles: plan.articles, source: 'fresh', window: `published ${plan.since.toISOString()} .. ${plan.cutoff.toISOString()}` };
}
