/** The editors' preview of an edition under approval: the real edition, marked, with their signed review links; counted nowhere. */
import crypto from 'node:crypto';
import type { LoadedConfig } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { addressOf, publicLink, senderDomain } from '../mail/addresses';
import type { TokenSigner } from '../mail/tokens';
import type { MailTransport } from '../mail/transports';
import { buildMimeTemplate, personaliseMessage } from '../render/mime-template';
import { escapeHtml, greetingFor } from '../render/slots';
import { editionHeaders, type BuildDeps } from './build-edition';
import type { Edition } from './edition';
import type { EditionStore } from './edition-store';
import { isStale } from './schedule';
import { withDirectStoryLinks } from './story-links';

export interface PreviewDeps {
  editions: Pick<EditionStore, 'get' | 'content' | 'markPreviewsSent'>;
  transport: Pick<MailTransport, 'send'>;
  signer: Pick<TokenSigner, 'editionLinks'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
  config: BuildDeps['config'] & Pick<LoadedConfig, 'publicUrl' | 'secret'>;
}

export const PREVIEW_SUBJECT_PREFIX = '[Preview] ';

/**
 * Editors' links work for that edition only, until its slot; an edition built after its slot
 * (the scheduler was down, ops ran it by hand) keeps them until its send window closes, after
 * which an approval could not send it anyway.
 */
export function reviewLinksExpire(edition: Pick<Edition, 'scheduledFor'>, newsletter: Pick<NewsletterConfig, 'sendWindowHours'>, now: Date): Date {
  if (edition.scheduledFor > now) return edition.scheduledFor;
  return new Date(edition.scheduledFor.getTime() + newsletter.sendWindowHours * 3_600_000);
}

/** The review page of one edition for one editor; `action` opens it at that button (the action itself is a POST). */
export function reviewUrl(deps: Pick<PreviewDeps, 'signer' | 'config'>, editionId: string, editor: string, expiresAt: Date, action?: 'approve' | 'hold'): string {
  const token = deps.signer.editionLinks.signEditor(editionId, editor, expiresAt);
  return publicLink(deps.config.publicUrl, `/review/${token}${action ? `?action=${action}` : ''}`);
}

function banner(input: { mode: string; slot: string; approve: string; hold: string; review: string }): { html: string; text: string } {
  const what = input.mode === 'required' ? 'Nothing is sent until an editor approves it.' : 'It goes at its slot unless an editor holds it.';
  const link = (href: string, label: string) => `<a href="${escapeHtml(href)}" style="color:#ffffff;font-weight:bold;">${escapeHtml(label)}</a>`;
  const html = `<div style="background:#a33a1d;color:#ffffff;font:15px/1.5 Helvetica,Arial,sans-serif;padding:14px 18px;text-align:center;">
<strong>Preview for editors, not sent to readers.</strong> Due ${escapeHtml(input.slot)}. ${escapeHtml(what)}<br>
${link(input.approve, 'Approve')} &middot; ${link(input.hold, 'Hold')} &middot; ${link(input.review, 'Review, drop or pin stories')}
</div>`;
  const text = `PREVIEW FOR EDITORS, NOT SENT TO READERS. Due ${input.slot}. ${what}
Approve: ${input.approve}
Hold: ${input.hold}
Review, drop or pin stories: ${input.review}

`;
  return { html, text };
}

/** Inserts the banner right after the opening <body> tag (or at the start when there is none). */
function withBanner(html: string, bannerHtml: string): string {
  const open = /<body\b[^>]{0,500}>/i.exec(html);
  if (!open) return bannerHtml + html;
  const at = open.index + open[0].length;
  return html.slice(0, at) + bannerHtml + html.slice(at);
}

/**
 * Sends each editor the edition as readers will get it (stored content), marked as a preview,
 * with story links straight to the articles (an editor's click counts nowhere), their own signed
 * approve, hold and review links, and a Message-ID and envelope that name no reader, so nothing
 * is recorded against the edition. Once per edition: a retried build does not send it again.
 */
export async function sendApprovalPreviews(deps: PreviewDeps, editionId: string, slotLabel: (at: Date, timeZone: string) => string): Promise<number> {
  const edition = await deps.editions.get(editionId);
  if (!edition || edition.state !== 'awaiting-approval' || edition.previewsSentAt) return 0;
  const content = await deps.editions.content(editionId);
  if (!content) throw new Error(`Edition ${editionId} awaits approval but has no stored content`);
  const newsletter = deps.newsletter(edition.newsletterId);
  const now = deps.clock.now();
  if (isStale(edition.scheduledFor, now, newsletter.sendWindowHours)) return 0;
  const expires = reviewLinksExpire(edition, newsletter, now);
  const direct = withDirectStoryLinks(content, { secret: deps.config.secret, publicUrl: deps.config.publicUrl, editionId, articles: edition.articles });
  const subject = PREVIEW_SUBJECT_PREFIX + content.subject;
  const help = publicLink(deps.config.publicUrl, '/archive/personal-links');
  const domain = senderDomain(newsletter.from);
  let sent = 0;
  for (const editor of newsletter.editors) {
    const marks = banner({
      mode: newsletter.approval,
      slot: slotLabel(edition.scheduledFor, newsletter.timezone),
      approve: reviewUrl(deps, editionId, editor, expires, 'approve'),
      hold: reviewUrl(deps, editionId, editor, expires, 'hold'),
      review: reviewUrl(deps, editionId, editor, expires),
    });
    const rendered = { ...direct, subject, html: withBanner(direct.html, marks.html), text: marks.text + direct.text };
    const template = buildMimeTemplate(rendered, editionHeaders(deps, newsletter, subject, { perReaderMailto: false }));
    const messageId = `<preview.${editionId}.${crypto.randomBytes(6).toString('base64url')}@${domain}>`;
    const raw = personaliseMessage(template, { to: { email: editor }, messageId, date: now, greeting: greetingFor(undefined), email: editor, unsubscribeUrl: help, preferencesUrl: help, readerRef: '' });
    await deps.transport.send({ envelopeFrom: addressOf(newsletter.from), to: editor, raw, messageId, editionId: `preview-${editionId}`, subscriberId: 'editor' });
    sent += 1;
  }
  await deps.editions.markPreviewsSent(editionId, now, { editors: sent, until: expires.toISOString() });
  deps.logger.child({ editionId }).info({ editors: sent }, 'approval preview sent to the editors');
  return sent;
}
