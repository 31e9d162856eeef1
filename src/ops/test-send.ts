/** One marked test copy of a day's edition to any address, recording nothing. */
import crypto from 'node:crypto';
import { DaybreakError, type ErrorCode } from '../core/errors';
import { buildMimeTemplate, personaliseMessage } from '../render/mime-template';
import { normaliseEmail } from '../subscribers/email';
import { publicLink, senderDomain } from '../mail/addresses';
import { editionHeaders } from '../delivery/build-edition';
import { addressOf } from '../mail/envelope';
import { greetingFor, preferencesUrl, unsubscribeUrl } from '../mail/personalise';
import type { MailTransport } from '../mail/transports';
import type { TokenSigner } from '../mail/tokens';
import type { SubscriberStore } from '../subscribers/store';
import { editionContent, type EditionContentDeps } from './edition-content';

export interface TestSendDeps extends EditionContentDeps {
  subscribers: Pick<SubscriberStore, 'findByEmail' | 'isSuppressed'>;
  transport: Pick<MailTransport, 'send' | 'description'>;
  signer: TokenSigner;
}

export const TEST_SUBJECT_PREFIX = '[TEST] ';

export class TestSendError extends DaybreakError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'TestSendError';
  }
}

export interface TestSendResult {
  editionId: string;
  to: string;
  subject: string;
  messageId: string;
  /** `stored`: the edition as readers got it; `fresh`: what a build would pick now. */
  source: 'stored' | 'fresh';
  articles: number;
  transport: string;
  response: string;
  bytes: number;
}

/** Where a test copy's personal links go when the address is nobody's subscription. */
export function personalLinksHelpUrl(publicUrl: string): string {
  return publicLink(publicUrl, '/archive/personal-links');
}

/**
 * Renders a day's edition and sends one copy, subject marked [TEST], to any address. Writes
 * nothing: no edition, no ledger, no sent-articles, no counters. If the day's edition was built,
 * the stored content is used (exactly what readers got); otherwise it is planned and rendered now.
 * Its Message-ID and envelope name no edition and no subscriber, so a bounce of a test copy is
 * never counted against either.
 */
export async function testSend(deps: TestSendDeps, input: { newsletterId: string; localDate: string; to: string }): Promise<TestSendResult> {
  const newsletter = deps.newsletter(input.newsletterId);
  const to = normaliseEmail(input.to);
  if (await deps.subscribers.isSuppressed(to)) {
    throw new TestSendError('refused', `${to} is on the suppression list (it bounced or complained); a test to it would hurt the sender's reputation. Use another address.`);
  }
  const content = await editionContent(deps, newsletter.id, input.localDate);
  const { editionId, rendered, source } = content;
  const articles = content.articles.length;
  if (articles === 0) throw new TestSendError('conflict', `No articles for ${editionId} (${content.window}); nothing to test.`);
  const subject = TEST_SUBJECT_PREFIX + rendered.subject;
  // A test copy is nobody's: it lists the https link only, no per-reader mailto.
  const template = buildMimeTemplate(rendered, editionHeaders(deps, newsletter, subject, { perReaderMailto: false }));
  const subscriber = await deps.subscribers.findByEmail(to);
  const publicUrl = deps.config.publicUrl;
  const help = personalLinksHelpUrl(publicUrl);
  const domain = senderDomain(newsletter.from);
  const messageId = `<test.${editionId}.${crypto.randomBytes(6).toString('base64url')}@${domain}>`;
  const raw = personaliseMessage(template, {
    to: { email: to, name: subscriber?.name },
    messageId,
    date: deps.clock.now(),
    greeting: greetingFor(subscriber?.name),
    email: to,
    // A subscriber's test copy carries their own working links; anyone else's point to a help page.
    unsubscribeUrl: subscriber ? unsubscribeUrl(publicUrl, deps.signer, subscriber.id) : help,
    preferencesUrl: subscriber ? preferencesUrl(publicUrl, deps.signer, subscriber.id) : help,
  });
  const receipt = await deps.transport.send({ envelopeFrom: addressOf(newsletter.from), to, raw, messageId, editionId: `test-${editionId}`, subscriberId: 'test' });
  deps.logger.child({ editionId }).info({ to, source }, 'test copy sent');
  return { editionId, to, subject, messageId, source, articles, transport: deps.transport.description, response: receipt.response, bytes: raw.length };
}
