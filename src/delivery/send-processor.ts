/** One send job: claim in the ledger, personalise the pre-built message, hand it to the transport, record the outcome. */
import { DelayedError, Worker, type Job } from 'bullmq';
import { DateTime } from 'luxon';
import { classifySmtpError } from '../bounces/smtp-reply';
import type { NewsletterConfig } from '../config/schema';
import { prepareMimeTemplate, personaliseMessage, type MimeTemplate, type PreparedMimeTemplate } from '../render/mime-template';
import { verpSettings, type VerpSettings } from '../mail/verp';
import { senderDomain } from '../mail/addresses';
import { envelopeSender } from '../mail/envelope';
import { messageIdFor, messageNonce, messageValues } from '../mail/personalise';
import { isLastAttempt, type SendJobData } from './queues';
import { localDateOf } from './schedule';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { MailTransport } from '../mail/transports';
import type { TokenSigner } from '../mail/tokens';
import type { EditionStore } from './edition-store';
import type { SendOutcomes } from './outcomes';
import type { DeliveryQueues } from './queues';

export interface SendDeps {
  editions: Pick<EditionStore, 'get' | 'mimeTemplateJson' | 'claim' | 'settle' | 'ledgerEntry'>;
  queues: Pick<DeliveryQueues, 'send'>;
  transport: Pick<MailTransport, 'send'>;
  signer: TokenSigner;
  outcomes: Pick<SendOutcomes, 'publish'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
  config: Pick<LoadedConfig, 'publicUrl' | 'secret' | 'delivery'>;
}

export type SendOutcome = 'sent' | 'failed' | 'skipped' | 'already-sent' | 'already-settled' | 'cancelled';

/** What every copy of one edition shares, loaded once per worker process, not once per message. */
interface EditionContext {
  editionId: string;
  newsletter: NewsletterConfig;
  template: PreparedMimeTemplate;
  domain: string;
  /** Set when the edition's emails list a per-reader mailto unsubscribe. */
  mailbox?: VerpSettings;
}

/** How long a paused edition's job waits before looking again. */
const pausedPollMs = 2000;
const cachedEditions = 8;

/**
 * One send job: claim in the ledger, personalise the pre-built message, SMTP, record.
 * Claiming re-reads suppression and the reader's status, so late unsubscribes win.
 */
export class SendProcessor {
  private readonly contexts = new Map<string, Promise<EditionContext>>();
  /** Per-message values that change rarely: the local date (for daily caps) per time zone and minute. */
  private readonly localDates = new Map<string, { minute: number; value: string }>();

  constructor(private readonly deps: SendDeps) {}

  private context(editionId: string): Promise<EditionContext> {
    let ctx = this.contexts.get(editionId);
    if (!ctx) {
      ctx = this.loadContext(editionId);
      ctx.catch(() => this.contexts.delete(editionId));
      this.contexts.set(editionId, ctx);
      if (this.contexts.size > cachedEditions) this.contexts.delete(this.contexts.keys().next().value as string);
    }
    return ctx;
  }

  private async loadContext(editionId: string): Promise<EditionContext> {
    const edition = await this.deps.editions.get(editionId);
    const json = await this.deps.editions.mimeTemplateJson(editionId);
    if (!edition || !json) throw new Error(`Edition ${editionId} has no stored message; was it built?`);
    const newsletter = this.deps.newsletter(edition.newsletterId);
    const template = prepareMimeTemplate(JSON.parse(json) as MimeTemplate);
    const listsMailto = template.parts.some((p) => !Buffer.isBuffer(p) && p.slot === 'unsubscribeMailto');
    const mailbox = listsMailto ? verpSettings(this.deps.config) : undefined;
    if (listsMailto && !mailbox) throw new Error(`Edition ${editionId} lists a mailto unsubscribe but delivery.bounceDomain is no longer set`);
    return { editionId, newsletter, template, domain: senderDomain(newsletter.from), mailbox };
  }

  private localDate(now: Date, timeZone: string): string {
    const minute = Math.floor(now.getTime() / 60_000);
    const cached = this.localDates.get(timeZone);
    if (cached?.minute === minute) return cached.value;
    const value = localDateOf(now, timeZone);
    this.localDates.set(timeZone, { minute, value });
    return value;
  }

  async process(job: Job<SendJobData>, token: string | undefined): Promise<SendOutcome> {
    const { e: editionId, s: subscriberId } = job.data;
    const deps = this.deps;
    const ctx = await this.context(editionId);
    const { newsletter } = ctx;
    const started = performance.now();
    const now = deps.clock.now();
    const claim = await deps.editions.claim({
      editionId,
      newsletterId: newsletter.id,
      subscriberId,
      owner: job.id as string,
      leaseMs: deps.config.delivery.lockDurationMs,
      now,
      dailyCap: newsletter.rateLimit.dailyCap,
      localDate: this.localDate(now, newsletter.timezone),
      force: job.data.f === 1,
    });
    switch (claim.kind) {
      case 'claimed':
        break;
      case 'sent':
        return 'already-sent';
      case 'settled':
        return 'already-settled';
      case 'cancelled':
        return 'cancelled';
      case 'skipped':
        await deps.outcomes.publish('skipped', { editionId, newsletterId: newsletter.id, subscriberId, reason: claim.reason });
        return 'skipped';
      case 'paused':
      case 'busy':
        // Keep the job; look again shortly (a paused edition keeps its queue).
        await job.moveToDelayed(Date.now() + pausedPollMs, token);
        throw new DelayedError();
      case 'capped': {
        // The daily cap is per newsletter, so the whole queue waits for the next local day.
        const tomorrow = DateTime.fromJSDate(now, { zone: newsletter.timezone }).plus({ days: 1 }).startOf('day').toMillis();
        await deps.queues.send(newsletter.id).rateLimit(Math.max(1000, tomorrow - now.getTime()));
        deps.logger.warn({ editionId, newsletter: newsletter.id, used: claim.used }, 'daily send cap reached; sending resumes tomorrow');
        throw Worker.RateLimitError();
      }
      case 'not-sending':
        throw new Error(`Edition ${editionId} is ${claim.state}, not sending; send job for subscriber ${subscriberId} will retry`);
    }

    // Derived from edition, reader and secret: a compacted ledger need not keep it (mail/personalise.ts).
    const messageId = messageIdFor(editionId, subscriberId, ctx.domain, messageNonce(deps.config.secret, editionId, subscriberId));
    const values = messageValues({ publicUrl: deps.config.publicUrl, signer: deps.signer, subscriberId, email: claim.email, name: claim.name, messageId, date: now, mailbox: ctx.mailbox });
    let raw: Buffer;
    try {
      raw = personaliseMessage(ctx.template, values);
    } catch (error) {
      // A value no message can carry (an address or name that slipped past validation): retrying
      // cannot help, and a claim left open would keep the edition from ever finishing.
      const detail = `message could not be built: ${(error as Error).message}`;
      await deps.editions.settle(editionId, subscriberId, 'f', detail, deps.clock.now());
      await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: detail, permanent: true, at: deps.clock.now() });
      deps.logger.error({ editionId, subscriberId, err: error }, 'message could not be built');
      return 'failed';
    }
    try {
      await deps.transport.send({ envelopeFrom: envelopeSender(deps.config, newsletter, editionId, subscriberId), to: claim.email, raw, messageId, editionId, subscriberId });
    } catch (error) {
      const failure = classifySmtpError(error);
      if (failure.kind !== 'permanent' && !isLastAttempt(job)) {
        deps.logger.debug({ editionId, subscriberId, failure }, 'send failed; will retry');
        throw new Error(`Send of ${editionId} to subscriber ${subscriberId} failed (${failure.kind}): ${failure.diagnostic}`);
      }
      // The server's reply usually starts with its code and status already: keep them once.
      const prefix = [failure.replyCode, failure.status].filter(Boolean).join(' ');
      const detail = failure.diagnostic.startsWith(prefix) ? failure.diagnostic : `${prefix} ${failure.diagnostic}`.trim();
      await deps.editions.settle(editionId, subscriberId, 'f', detail, deps.clock.now());
      // The bounce side subscribes to this (a refusal at send time is a bounce); delivery never calls it.
      await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: failure.diagnostic, permanent: failure.kind === 'permanent', failure, at: deps.clock.now() });
      deps.logger.warn({ editionId, subscriberId, failure, attempts: job.attemptsMade + 1 }, 'send failed');
      return 'failed';
    }
    await deps.editions.settle(editionId, subscriberId, 's', messageId, deps.clock.now());
    await deps.outcomes.publish('sent', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, messageId, ms: performance.now() - started });
    return 'sent';
  }

  /**
   * A job that failed for the last time on an unexpected error (not an SMTP reply, which process()
   * records itself) still settles its reader as failed, so the edition can finish.
   */
  async settleGivenUp(job: Job<SendJobData>, err: Error): Promise<void> {
    if (job.attemptsMade < (job.opts.attempts ?? 1)) return;
    try {
      const entry = await this.deps.editions.ledgerEntry(job.data.e, job.data.s);
      if (entry && (entry.kind === 'queued' || entry.kind === 'claimed')) {
        await this.deps.editions.settle(job.data.e, job.data.s, 'f', `gave up after ${job.attemptsMade} attempts: ${err.message}`, this.deps.clock.now());
      }
    } catch (error) {
      this.deps.logger.error({ err: error, editionId: job.data.e }, 'could not record a failed send');
    }
  }
}
