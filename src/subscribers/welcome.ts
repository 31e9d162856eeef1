/** The welcome email: one per confirmed sign-up, saying what the reader chose and when it first arrives; never sent twice. */
import crypto from 'node:crypto';
import type { LoadedConfig } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { addressOf, publicLink, senderDomain } from '../mail/addresses';
import { messageValues, unsubscribeMailbox } from '../mail/personalise';
import type { TokenSigner } from '../mail/tokens';
import type { MailTransport } from '../mail/transports';
import { buildMimeTemplate, personaliseMessage } from '../render/mime-template';
import { renderWelcome, welcomeWording } from '../render/welcome-email';
import { confirmationFrom } from './signup';
import type { OwedWelcome, Subscriber, SubscriberStore } from './store';

export interface WelcomeDeps {
  subscribers: Pick<SubscriberStore, 'get' | 'isSuppressed' | 'welcomeOwed' | 'markWelcomeSent' | 'welcomes'>;
  transport: Pick<MailTransport, 'send'>;
  signer: TokenSigner;
  clock: Clock;
  logger: Logger;
  config: Pick<LoadedConfig, 'newsletters' | 'organisation' | 'publicUrl' | 'web' | 'secret' | 'delivery' | 'bounces'>;
  /**
   * When a newsletter's next edition goes out after `after`, said in its own time zone ("Tuesday 24
   * November at 06:00 GMT"). Slot arithmetic belongs to delivery, a layer above this one, so the
   * composition root passes it in (app/runtime.ts).
   */
  firstEditionLabel(newsletter: NewsletterConfig, after: Date): string;
}

/** How long one process may hold a reader's welcome while it sends. */
const LEASE_MS = 60_000;
/** The sweep leaves a welcome this long to the process that confirmed it before taking it over. */
export const WELCOME_RETRY_AFTER_MS = 2 * 60_000;

export type WelcomeOutcome = 'sent' | 'none' | 'busy' | 'skipped';

/**
 * Builds the welcome: its own templates, and the same headers an edition carries (List-Id of the
 * first newsletter chosen, List-Unsubscribe with the reader's one-click link and, when a mailbox
 * reads them, their mailto, and List-Unsubscribe-Post), through the edition's MIME template code.
 */
export async function buildWelcomeMessage(deps: WelcomeDeps, subscriber: Subscriber, welcome: OwedWelcome): Promise<{ raw: Buffer; messageId: string; subject: string; from: string }> {
  const org = deps.config.organisation;
  const now = deps.clock.now();
  const chosen = deps.config.newsletters.filter((n) => welcome.newsletters.includes(n.id));
  const first = chosen[0] ?? (deps.config.newsletters[0] as NewsletterConfig);
  const { from, replyTo } = confirmationFrom(deps);
  const domain = senderDomain(from);
  const messageId = `<welcome.${subscriber.id}.${crypto.randomBytes(6).toString('base64url')}@${domain}>`;
  const mailbox = unsubscribeMailbox(deps.config);
  const values = messageValues({ publicUrl: deps.config.publicUrl, signer: deps.signer, subscriberId: subscriber.id, email: subscriber.email, name: subscriber.name, messageId, date: now, mailbox });
  const rendered = await renderWelcome({
    ...welcomeWording({ kind: welcome.kind, organisation: org.name, name: subscriber.name, count: chosen.length }),
    organisation: org.name,
    postalAddress: org.postalAddress,
    email: subscriber.email,
    newsletters: chosen.map((n) => ({ name: n.name, description: n.description, firstEdition: deps.firstEditionLabel(n, now) })),
    fromAddress: addressOf(first.from),
    preferencesUrl: values.preferencesUrl,
    unsubscribeUrl: values.unsubscribeUrl,
    archiveUrl: publicLink(deps.config.publicUrl, '/archive'),
  });
  const template = buildMimeTemplate({ ...rendered, warnings: [], timings: { mjmlMs: 0, textMs: 0 } }, {
    from,
    replyTo,
    subject: rendered.subject,
    listId: `${first.name} <${first.id}.${senderDomain(first.from)}>`,
    messageIdDomain: domain,
    unsubscribeMailtoPerReader: mailbox !== undefined,
  });
  return { raw: personaliseMessage(template, values), messageId, subject: rendered.subject, from };
}

/**
 * Sends the reader the welcome they are owed, once: the confirmation recorded it as owed in the
 * same atomic change, a lease keeps two processes from sending it at once, and it is marked sent
 * right after the mail server accepts it. A retry (the confirm link followed again, the sweep
 * after a crash) finds it owed or sent. The window that remains is an edition's: a crash between
 * the server's 250 and the mark sends it again (docs/architecture.md, "The window that remains").
 */
export async function deliverWelcome(deps: WelcomeDeps, subscriberId: string): Promise<WelcomeOutcome> {
  if (!(await deps.subscribers.welcomeOwed(subscriberId))) {
    await deps.subscribers.welcomes.done(subscriberId);
    return 'none';
  }
  const owner = crypto.randomBytes(8).toString('hex');
  if (!(await deps.subscribers.welcomes.lease(subscriberId, owner, LEASE_MS))) return 'busy';
  try {
    // Read again under the lease: another process may have sent it in between.
    const welcome = await deps.subscribers.welcomeOwed(subscriberId);
    if (!welcome) return 'none';
    const subscriber = await deps.subscribers.get(subscriberId);
    const now = deps.clock.now();
    if (!subscriber || subscriber.status !== 'confirmed' || (await deps.subscribers.isSuppressed(subscriber.email))) {
      // Unsubscribed or suppressed since: a welcome would be unwelcome.
      await deps.subscribers.markWelcomeSent(subscriberId, welcome, now, { skipped: true, status: subscriber?.status ?? 'gone' });
      return 'skipped';
    }
    const { raw, messageId, from } = await buildWelcomeMessage(deps, subscriber, welcome);
    await deps.transport.send({ envelopeFrom: addressOf(from), to: subscriber.email, raw, messageId, editionId: 'welcome', subscriberId });
    await deps.subscribers.markWelcomeSent(subscriberId, welcome, deps.clock.now(), { messageId, newsletters: welcome.newsletters });
    deps.logger.info({ subscriberId, messageId }, 'welcome email sent');
    return 'sent';
  } finally {
    await deps.subscribers.welcomes.release(subscriberId);
  }
}

const backgroundWelcomes = new WeakMap<WelcomeDeps, Set<Promise<void>>>();

/**
 * Sends the welcome after the confirm page has answered (a slow mail server never delays the
 * page). A failure is logged; the welcome stays owed and the sweep (deliverDueWelcomes) sends it.
 */
export function startWelcome(deps: WelcomeDeps, subscriberId: string): void {
  let running = backgroundWelcomes.get(deps);
  if (!running) {
    running = new Set();
    backgroundWelcomes.set(deps, running);
  }
  const inFlight = running;
  const work: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => deliverWelcome(deps, subscriberId))
    .then(
      () => undefined,
      (error: unknown) => deps.logger.error({ err: error, subscriberId }, 'welcome email not sent yet; it stays owed and is retried'),
    )
    .finally(() => inFlight.delete(work));
  inFlight.add(work);
}

/** Waits for every welcome still being sent in the background (server shutdown, tests). */
export async function settleWelcomes(deps: WelcomeDeps): Promise<void> {
  const running = backgroundWelcomes.get(deps);
  while (running && running.size > 0) await Promise.all([...running]);
}

/**
 * The retry sweep (the scheduler's minute tick): welcomes owed for longer than `olderThanMs`,
 * which the process that confirmed them did not send (it crashed, or the mail server was down).
 */
export async function deliverDueWelcomes(deps: WelcomeDeps, options: { olderThanMs?: number; limit?: number } = {}): Promise<Record<WelcomeOutcome | 'failed', number>> {
  const counts: Record<WelcomeOutcome | 'failed', number> = { sent: 0, none: 0, busy: 0, skipped: 0, failed: 0 };
  const before = new Date(deps.clock.now().getTime() - (options.olderThanMs ?? WELCOME_RETRY_AFTER_MS));
  for (const id of await deps.subscribers.welcomes.dueBefore(before, options.limit ?? 200)) {
    try {
      counts[await deliverWelcome(deps, id)] += 1;
    } catch (error) {
      counts.failed += 1;
      deps.logger.warn({ err: error, subscriberId: id }, 'welcome email still not sent; retried on the next tick');
    }
  }
  return counts;
}
