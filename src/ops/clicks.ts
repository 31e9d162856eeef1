/** A followed story link: where it goes (only to a URL the edition carried) and how it is counted. */
import type { NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from '../delivery/edition-store';
import { storyKey } from '../mail/edition-links';
import type { TokenSigner } from '../mail/tokens';
import type { SubscriberStore } from '../subscribers/store';
import type { ClickStore, RecordedClick } from './click-store';
import { automatedReason, BURST_WINDOW_MS, burstThreshold } from './link-scanners';

export interface ClickDeps {
  editions: Pick<EditionStore, 'storyTargets'>;
  clicks: Pick<ClickStore, 'record' | 'clientHash' | 'recordReader'>;
  subscribers: Pick<SubscriberStore, 'consent'>;
  signer: Pick<TokenSigner, 'editionLinks'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
}

export interface StoryLinkRequest {
  editionId: string;
  story: string;
  sig: string;
  method: string;
  ip: string;
  userAgent?: string;
  /** `?u=`: present only in newsletters that keep per-reader click records. */
  readerRef?: unknown;
}

export type StoryLinkOutcome =
  | { kind: 'redirect'; location: string; click?: RecordedClick; automated?: string }
  /** A link we never signed, or a story the edition does not have: the branded 404. */
  | { kind: 'unknown' };

const WEB_URL = /^https?:\/\/[^\s"'<>]+$/i;

/**
 * Follows a story link: the signature must be ours, and the target is looked up in the edition's
 * stored article list (never taken from the request), so nobody can be sent anywhere the edition
 * did not link to. The click is counted in aggregate; a count that fails is logged and the reader
 * still gets their story. Only the edition's article list is read: links keep working after the
 * edition's per-reader data is compacted.
 */
export async function followStoryLink(deps: ClickDeps, request: StoryLinkRequest): Promise<StoryLinkOutcome> {
  if (!deps.signer.editionLinks.verifyClick(request.editionId, request.story, request.sig)) return { kind: 'unknown' };
  const targets = await deps.editions.storyTargets(request.editionId);
  const article = targets?.articles.find((a) => storyKey(a.id) === request.story);
  if (!targets || !article || !WEB_URL.test(article.url)) return { kind: 'unknown' };
  const location = article.url;
  const automated = automatedReason({ method: request.method, userAgent: request.userAgent });
  try {
    const now = deps.clock.now();
    const click = await deps.clicks.record({
      editionId: request.editionId,
      newsletterId: targets.newsletterId,
      story: request.story,
      client: deps.clicks.clientHash(request.ip, request.userAgent),
      automated: automated !== undefined,
      now,
      burst: { windowMs: BURST_WINDOW_MS, threshold: burstThreshold(targets.articles.length) },
    });
    if (click.counted && click.kind === 'human' && request.readerRef !== undefined) await recordReader(deps, targets.newsletterId, request, now);
    return { kind: 'redirect', location, click, automated };
  } catch (error) {
    deps.logger.error({ err: error, editionId: request.editionId }, 'story click could not be counted; redirected anyway');
    return { kind: 'redirect', location };
  }
}

/**
 * A per-reader record, only where the newsletter opted in and the reader signed up under a
 * consent text that said so (their latest consent for the newsletter carries `clickRecords`).
 * Readers who joined before the opt-in stay in the aggregate only.
 */
async function recordReader(deps: ClickDeps, newsletterId: string, request: StoryLinkRequest, now: Date): Promise<void> {
  const newsletter = deps.newsletter(newsletterId);
  if (!newsletter.clicks.perReader) return;
  const subscriberId = deps.signer.editionLinks.verifyReaderRef(request.readerRef);
  if (!subscriberId) return;
  const consent = (await deps.subscribers.consent(subscriberId)).filter((c) => c.newsletters.includes(newsletterId));
  const latest = consent[consent.length - 1];
  if (latest?.action !== 'given' || !latest.clickRecords?.includes(newsletterId)) return;
  await deps.clicks.recordReader(request.editionId, subscriberId, request.story);
  deps.logger.debug({ editionId: request.editionId, at: now.toISOString() }, 'per-reader click recorded');
}
