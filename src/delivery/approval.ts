/** The editors' say before a scheduled send: approve, hold, drop or pin a story, and what the slot does with their say. */
import { DaybreakError } from '../core/errors';
import type { NewsletterConfig } from '../config/schema';
import { storyKey } from '../mail/edition-links';
import type { EditionContent } from '../render/contract';
import { buildMimeTemplate } from '../render/mime-template';
import { readingOrder } from '../render/reading-order';
import { editionHeaders, type BuildDeps } from './build-edition';
import type { Edition, EditionArticle } from './edition';
import type { EditionStore } from './edition-store';
import { enqueueEdition, type EnqueueDeps } from './enqueue';
import { isStale } from './schedule';

export interface ApprovalDeps extends EnqueueDeps {
  editions: EnqueueDeps['editions'] & Pick<EditionStore, 'get' | 'apply' | 'list' | 'source' | 'storeRerender' | 'markApprovalOverdue'>;
  logger: BuildDeps['logger'];
  config: EnqueueDeps['config'] & BuildDeps['config'] & { newsletters: readonly NewsletterConfig[] };
}

/** What the slot does with an edition under approval, from the newsletter's mode and the editors' say (pure). */
export type ApprovalVerdict =
  /** Its slot has not come. */
  | 'wait'
  /** Its slot has come and it may go (veto, not held; required, approved). */
  | 'send'
  /** An editor held it: it stays until an editor approves. */
  | 'held'
  /** `required` and nobody approved it: it stays, and ops are told. */
  | 'unapproved'
  /** Past its send window: a morning email does not go at noon unless ops force it. */
  | 'too-late';

export function approvalVerdict(input: { mode: NewsletterConfig['approval']; decision?: Edition['approval']; scheduledFor: Date; now: Date; sendWindowHours: number }): ApprovalVerdict {
  if (input.now < input.scheduledFor) return 'wait';
  if (isStale(input.scheduledFor, input.now, input.sendWindowHours)) return 'too-late';
  if (input.decision === 'held') return 'held';
  if (input.mode === 'required' && input.decision !== 'approved') return 'unapproved';
  return 'send';
}

export class ApprovalError extends DaybreakError {
  constructor(code: 'conflict' | 'not-found' | 'bad-input' | 'edition-held', message: string, editionId: string) {
    super(code, message, { context: { edition: editionId } });
    this.name = 'ApprovalError';
  }
}

async function awaiting(deps: ApprovalDeps, id: string): Promise<Edition> {
  const edition = await deps.editions.get(id);
  if (!edition) throw new ApprovalError('not-found', `No edition "${id}" (\`daybreak editions\` lists them).`, id);
  if (edition.state !== 'awaiting-approval') {
    throw new ApprovalError('conflict', `Edition ${id} is ${edition.state}, not awaiting approval: the editors' say applies only before it is sent.`, id);
  }
  return edition;
}

export interface ApprovalResult {
  edition: Edition;
  /** It went out now (approved after its slot, within the send window). */
  released: boolean;
  /** What happens next, in words for the person who acted. */
  next: string;
}

/** Sends it now: its slot has come with the editors' say, or ops force it. Queues the fan-out. */
export async function releaseForSending(deps: ApprovalDeps, id: string, options: { by: string; forced?: boolean }): Promise<boolean> {
  const now = deps.clock.now();
  const result = await deps.editions.apply(id, 'releaseApproved', {
    at: now,
    detail: { by: options.by, ...(options.forced ? { forced: true } : {}) },
    fields: { startedAt: now, ...(options.forced ? { forced: true } : {}) },
  });
  if (!result.ok) return false;
  const edition = (await deps.editions.get(id)) as Edition;
  // The fan-out is a build job (its build is stored already, so it only queues the readers).
  await enqueueEdition(deps, { newsletterId: edition.newsletterId, localDate: edition.localDate, trigger: 'manual' });
  deps.logger.child({ editionId: id }).info({ by: options.by, forced: options.forced ?? false }, 'edition released for sending');
  return true;
}

/** After an editor's say: send now when the slot has come and the say allows it. */
async function afterSay(deps: ApprovalDeps, id: string, by: string): Promise<ApprovalResult> {
  const edition = (await deps.editions.get(id)) as Edition;
  const newsletter = deps.newsletter(edition.newsletterId);
  const now = deps.clock.now();
  const verdict = approvalVerdict({ mode: newsletter.approval, decision: edition.approval, scheduledFor: edition.scheduledFor, now, sendWindowHours: newsletter.sendWindowHours });
  switch (verdict) {
    case 'wait':
      return { edition, released: false, next: edition.approval === 'held' ? 'Held: it will not go at its slot unless an editor approves it.' : `It goes at its slot, ${edition.scheduledFor.toISOString()}.` };
    case 'send': {
      const released = await releaseForSending(deps, id, { by });
      return { edition: (await deps.editions.get(id)) as Edition, released, next: 'Its slot has passed, so it is being sent now.' };
    }
    case 'too-late':
      return { edition, released: false, next: `Too late for its send window (${newsletter.sendWindowHours} h after its slot): it is not sent unless ops force it (\`daybreak run-edition ${newsletter.id} --date ${edition.localDate} --force\`).` };
    default:
      return { edition, released: false, next: 'Held: nothing is sent until an editor approves it.' };
  }
}

/** An editor approves: it goes at its slot, or now if the slot has passed (within the send window). */
export async function approveEdition(deps: ApprovalDeps, id: string, options: { by: string }): Promise<ApprovalResult> {
  await awaiting(deps, id);
  const now = deps.clock.now();
  const result = await deps.editions.apply(id, 'approve', { at: now, detail: { by: options.by }, fields: { approval: 'approved', approvalBy: options.by, approvalAt: now } });
  if (!result.ok) throw new ApprovalError('conflict', `Edition ${id} is ${result.previous}, not awaiting approval.`, id);
  deps.logger.child({ editionId: id }).info({ by: options.by }, 'edition approved');
  return afterSay(deps, id, options.by);
}

/** An editor holds it: it does not go at its slot until an editor approves. */
export async function holdEdition(deps: ApprovalDeps, id: string, options: { by: string }): Promise<ApprovalResult> {
  await awaiting(deps, id);
  const now = deps.clock.now();
  const result = await deps.editions.apply(id, 'editorHold', { at: now, detail: { by: options.by }, fields: { approval: 'held', approvalBy: options.by, approvalAt: now } });
  if (!result.ok) throw new ApprovalError('conflict', `Edition ${id} is ${result.previous}, not awaiting approval.`, id);
  deps.logger.child({ editionId: id }).info({ by: options.by }, 'edition held by an editor');
  return afterSay(deps, id, options.by);
}

/**
 * A story as an editor names it: its place in the email (1 = the lead, as `status` and the review
 * page number them), its article id, or its story key.
 */
export function findStory(articles: readonly EditionArticle[], ref: string): EditionArticle | undefined {
  const trimmed = ref.trim();
  if (/^\d{1,3}$/.test(trimmed)) return articles[Number(trimmed) - 1];
  return articles.find((a) => a.id === trimmed) ?? articles.find((a) => storyKey(a.id) === trimmed);
}

export interface StoryChangeResult {
  edition: Edition;
  /** false: nothing to change (the story leads already). */
  changed: boolean;
  article: EditionArticle;
}

/**
 * Drops or pins (makes the lead) one story and re-renders the edition ONCE from its kept plan:
 * the MJML, text and MIME template are built again here, once per change, never per reader. An
 * approval given before the change is cleared, so what goes out is what an editor approved.
 * Two editors changing at once: the second one's change is made again on top of the first.
 */
export async function changeStory(deps: ApprovalDeps, id: string, change: { kind: 'drop' | 'pin'; story: string; by: string }): Promise<StoryChangeResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const edition = await awaiting(deps, id);
    const article = findStory(edition.articles, change.story);
    if (!article) throw new ApprovalError('bad-input', `Edition ${id} has no story "${change.story}": name it by its number (1 to ${edition.articles.length}, as \`daybreak status ${id}\` lists them) or its article id.`, id);
    const source = await deps.editions.source(id);
    if (!source) throw new ApprovalError('conflict', `Edition ${id} has no kept plan to re-render from (built before approval was turned on?); cancel it and run it again.`, id);
    const others = source.articles.filter((a) => a.id !== article.id);
    const target = source.articles.find((a) => a.id === article.id);
    if (!target) throw new ApprovalError('conflict', `Edition ${id}'s kept plan lacks story "${article.title}"; cancel it and run it again.`, id);
    let articles: EditionContent['articles'];
    if (change.kind === 'drop') {
      if (others.length === 0) throw new ApprovalError('bad-input', `"${article.title}" is the only story of ${id}; an edition needs at least one (hold or cancel it instead).`, id);
      articles = others;
    } else {
      if (source.articles[0]?.id === article.id) return { edition, changed: false, article };
      articles = readingOrder([target, ...others]);
    }
    const content: EditionContent = { ...source, articles };
    const newsletter = deps.newsletter(edition.newsletterId);
    const { renderEdition } = require('../render/render-edition') as typeof import('../render/render-edition');
    const rendered = await renderEdition(content);
    const mime = buildMimeTemplate(rendered, editionHeaders(deps, newsletter, rendered.subject));
    const now = deps.clock.now();
    const stored = await deps.editions.storeRerender(id, {
      rev: edition.rev,
      newsletterId: edition.newsletterId,
      source: content,
      rendered,
      mimeTemplateJson: JSON.stringify(mime),
      articles: articles.map((a) => ({ id: a.id, title: a.title, url: a.url, section: a.section })),
      dropped: change.kind === 'drop' ? [article.id] : [],
      clearApproval: edition.approval === 'approved',
      at: now,
      event: change.kind === 'drop' ? 'story-dropped' : 'story-pinned',
      detail: { by: change.by, story: article.title, articleId: article.id, ...(edition.approval === 'approved' ? { approvalCleared: true } : {}) },
    });
    if (stored.outcome === 'stale') continue;
    if (stored.outcome !== 'ok') throw new ApprovalError('conflict', `Edition ${id} is ${stored.state ?? 'gone'}, not awaiting approval.`, id);
    deps.logger.child({ editionId: id }).info({ by: change.by, change: change.kind, articleId: article.id }, 'edition re-rendered after an editor\'s change');
    return { edition: (await deps.editions.get(id)) as Edition, changed: true, article };
  }
  throw new ApprovalError('conflict', `Edition ${id} kept changing under this change; try again.`, id);
}

export interface ApprovalCheck {
  editionId: string;
  verdict: ApprovalVerdict;
  /** Released for sending by this check. */
  released: boolean;
}

/**
 * The scheduler's tick for editions under approval: at its slot, one goes out if its say allows
 * (veto: unless held; required: once approved); one that may not is left as it is, and ops are
 * told once (log, history, `status`, the metrics gauge). Driven by the injected clock.
 */
export async function checkApprovals(deps: ApprovalDeps): Promise<ApprovalCheck[]> {
  const now = deps.clock.now();
  const checks: ApprovalCheck[] = [];
  for (const newsletter of deps.config.newsletters) {
    if (newsletter.approval === 'none') continue;
    for (const edition of await deps.editions.list(newsletter.id, 10)) {
      if (edition.state !== 'awaiting-approval') continue;
      const verdict = approvalVerdict({ mode: newsletter.approval, decision: edition.approval, scheduledFor: edition.scheduledFor, now, sendWindowHours: newsletter.sendWindowHours });
      let released = false;
      if (verdict === 'send') released = await releaseForSending(deps, edition.id, { by: 'schedule' });
      else if (verdict !== 'wait') {
        const why = verdict === 'held' ? `held by ${edition.approvalBy ?? 'an editor'}` : verdict === 'unapproved' ? 'no editor approved it' : 'its send window passed without it going';
        if (await deps.editions.markApprovalOverdue(edition.id, now, { reason: why })) {
          deps.logger.child({ editionId: edition.id }).warn({ verdict, slot: edition.scheduledFor.toISOString() }, `edition past its slot and not sent: ${why}`);
        }
      }
      checks.push({ editionId: edition.id, verdict, released });
    }
  }
  return checks;
}
