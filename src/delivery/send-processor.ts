import crypto from 'node:crypto';
import { DelayedError, Worker, type Job } from 'bullmq';
import { DateTime } from 'luxon';
import { BouncePolicy } from '../bounces/policy';
import { classifySmtpError } from '../bounces/smtp-reply';
import type { NewsletterConfig } from '../config/schema';
import { prepareMimeTemplate, personaliseMessage, type MimeTemplate, type PreparedMimeTemplate } from '../render/mime-template';
import { verpSettings, type VerpSettings } from '../bounces/verp';
import { senderDomain } from './addresses';
import { envelopeSender } from './envelope';
import { messageIdFor, messageValues } from './personalise';
import type { SendJobData } from './queues';
import type { Runtime } from './runtime';
import { localDateOf } from './schedule';

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
  /** Message-ID nonces: a random prefix per process and a counter, unique without a syscall per message. */
  private readonly noncePrefix = crypto.randomBytes(4).toString('base64url');
  private nonceCounter = 0;

  constructor(private readonly runtime: Runtime) {}

  private bouncePolicy?: BouncePolicy;

  /** A refusal at SMTP time is a bounce: the policy counts and suppresses (failure path only). */
  private async recordBounce(input: Parameters<BouncePolicy['recordSendFailure']>[0]): Promise<void> {
    try {
      this.bouncePolicy ??= new BouncePolicy(this.runtime);
      await this.bouncePolicy.recordSendFailure(input);
    } catch (error) {
      // The send is settled either way; a lost bounce is logged, never a reason to resend.
      this.runtime.logger.error({ err: error, editionId: input.editionId, subscriberId: input.subscriberId }, 'could not record the bounce');
    }
  }

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
    const edition = await this.runtime.editions.get(editionId);
    const json = await this.runtime.editions.mimeTemplateJson(editionId);
    if (!edition || !json) throw new Error(`Edition ${editionId} has no stored message; was it built?`);
    const newsletter = this.runtime.newsletter(edition.newsletterId);
    const template = prepareMimeTemplate(JSON.parse(json) as MimeTemplate);
    const listsMailto = template.parts.some((p) => !Buffer.isBuffer(p) && p.slot === 'unsubscribeMailto');
    const mailbox = listsMailto ? verpSettings(this.runtime.config) : undefined;
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

  private nonce(): string {
    this.nonceCounter = (this.nonceCounter + 1) % 0x7fffffff;
    return `${this.noncePrefix}${this.nonceCounter.toString(36)}`;
  }

  async process(job: Job<SendJobData>, token: string | undefined): Promise<SendOutcome> {
    const { e: editionId, s: subscriberId } = job.data;
    const runtime = this.runtime;
    const ctx = await this.context(editionId);
    const { newsletter } = ctx;
    const started = performance.now();
    const now = runtime.clock.now();
    const claim = await runtime.editions.claim({
      editionId,
      newsletterId: newsletter.id,
      subscriberId,
      owner: job.id as string,
      leaseMs: runtime.config.delivery.lockDurationMs,
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
        runtime.events.emit('skipped', { editionId, newsletterId: newsletter.id, subscriberId, reason: claim.reason });
        return 'skipped';
      case 'paused':
      case 'busy':
        // Keep the job; look again shortly (a paused edition keeps its queue).
        await job.moveToDelayed(Date.now() + pausedPollMs, token);
        throw new DelayedError();
      case 'capped': {
        // The daily cap is per newsletter, so the whole queue waits for the next local day.
        const tomorrow = DateTime.fromJSDate(now, { zone: newsletter.timezone }).plus({ days: 1 }).startOf('day').toMillis();
        await runtime.queues.send(newsletter.id).rateLimit(Math.max(1000, tomorrow - now.getTime()));
        runtime.logger.warn({ editionId, newsletter: newsletter.id, used: claim.used }, 'daily send cap reached; sending resumes tomorrow');
        throw Worker.RateLimitError();
      }
      case 'not-sending':
        throw new Error(`Edition ${editionId} is ${claim.state}, not sending; send job for subscriber ${subscriberId} will retry`);
    }

    const messageId = messageIdFor(editionId, subscriberId, ctx.domain, this.nonce());
    const values = messageValues({ publicUrl: runtime.config.publicUrl, signer: runtime.signer, subscriberId, email: claim.email, name: claim.name, messageId, date: now, mailbox: ctx.mailbox });
    let raw: Buffer;
    try {
      raw = personaliseMessage(ctx.template, values);
    } catch (error) {
      // A value no message can carry (an address or name that slipped past validation): retrying
      // cannot help, and a claim left open would keep the edition from ever finishing.
      const detail = `message could not be built: ${(error as Error).message}`;
      await runtime.editions.settle(editionId, subscriberId, 'f', detail, runtime.clock.now());
      runtime.events.emit('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: detail, permanent: true });
      runtime.logger.error({ editionId, subscriberId, err: error }, 'message could not be built');
      return 'failed';
    }
    try {
      await runtime.transport.send({ envelopeFrom: envelopeSender(runtime.config, newsletter, editionId, subscriberId), to: claim.email, raw, messageId, editionId, subscriberId });
    } catch (error) {
      const failure = classifySmtpError(error);
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (failure.kind !== 'permanent' && !lastAttempt) {
        runtime.logger.debug({ editionId, subscriberId, failure }, 'send failed; will retry');
        throw new Error(`Send of ${editionId} to subscriber ${subscriberId} failed (${failure.kind}): ${failure.diagnostic}`);
      }
      // The server's reply usually starts with its code and status already: keep them once.
      const prefix = [failure.replyCode, failure.status].filter(Boolean).join(' ');
      const detail = failure.diagnostic.startsWith(prefix) ? failure.diagnostic : `${prefix} ${failure.diagnostic}`.trim();
      await runtime.editions.settle(editionId, subscriberId, 'f', detail, runtime.clock.now());
      await this.recordBounce({ editionId, subscriberId, email: claim.email, failure, at: runtime.clock.now() });
      runtime.events.emit('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, replyCode: failure.replyCode, status: failure.status, diagnostic: failure.diagnostic, permanent: failure.kind === 'permanent' });
      runtime.logger.warn({ editionId, subscriberId, failure, attempts: job.attemptsMade + 1 }, 'send failed');
      return 'failed';
    }
    await runtime.editions.settle(editionId, subscriberId, 's', messageId, runtime.clock.now());
    runtime.events.emit('sent', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, messageId, ms: performance.now() - started });
    return 'sent';
  }
}
