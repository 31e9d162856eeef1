/** The send job: claim the reader, personalise, send through the transport, record; retries until the send window closes. */
import { DelayedError, Worker, type Job } from 'bullmq';
import { DateTime } from 'luxon';
import type { NewsletterConfig } from '../config/schema';
import { prepareMimeTemplate, personaliseMessage, type MimeTemplate, type PreparedMimeTemplate } from '../render/mime-template';
import { verpSettings, type VerpSettings } from '../mail/verp';
import { senderDomain } from '../mail/addresses';
import { envelopeSender } from '../mail/envelope';
import { messageIdFor, messageNonce, messageValues } from '../mail/personalise';
import { classifySmtpError, type SmtpFailure } from '../mail/transports';
import { sendQueueGroup, sendQueueNewsletter, type SendJobData } from './queues';
import type { Pacer } from './pacer';
import { isRateDeferral } from './providers';
import { localDateOf } from './schedule';
import { formatWindowEnd, retryWindowMs, sendWindowCloses } from './send-window';
import { TransportBreaker, type TransportBreakerDeps, type TransportBreakerState } from './transport-breaker';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import { Semaphore } from '../core/semaphore';
import type { Logger } from '../core/logger';
import type { MailTransport } from '../mail/transports';
import type { TokenSigner } from '../mail/tokens';
import type { EditionStore } from './edition-store';
import type { SendOutcomes } from './outcomes';
import type { DeliveryQueues } from './queues';

export interface SendDeps extends TransportBreakerDeps {
  editions: Pick<EditionStore, 'get' | 'mimeTemplateJson' | 'claim' | 'settle' | 'giveUp' | 'cutOff' | 'waves'>;
  queues: Pick<DeliveryQueues, 'send' | 'sendQueues'>;
  transport: Pick<MailTransport, 'send' | 'verify' | 'description'>;
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
  /** When its send window closes (ms): retries stop, and readers the relay never took are failed. */
  closesAt: number;
  /** Sent in waves (readers' zones): when each wave's own window closes (ms), by zone. */
  waveCloses?: Map<string, number>;
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

  /** Shared with every worker of the install through Redis; this process's view of it. */
  readonly breaker: TransportBreaker;
  /**
   * With pacing on, a newsletter has a worker per provider group: together they run at most
   * `concurrency` sends in this process, as its one worker did alone (per newsletter, by queue name).
   */
  private readonly slots = new Map<string, Semaphore>();

  /** `pacer`: with pacing on, hears each send's outcome per provider group and says when a group is paused. */
  constructor(private readonly deps: SendDeps, private readonly pacer?: Pick<Pacer, 'pauseOf' | 'recordSent' | 'recordDeferral' | 'pauseAtWindowEnd'>, private readonly options: { concurrency?: number } = {}) {
    this.breaker = new TransportBreaker(deps);
  }

  private slotsOf(queueName: string): Semaphore | undefined {
    if (!this.pacer || !this.options.concurrency) return undefined;
    const newsletter = sendQueueNewsletter(queueName);
    let slots = this.slots.get(newsletter);
    if (!slots) {
      slots = new Semaphore(this.options.concurrency);
      this.slots.set(newsletter, slots);
    }
    return slots;
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
    const edition = await this.deps.editions.get(editionId);
    const json = await this.deps.editions.mimeTemplateJson(editionId);
    if (!edition || !json) throw new Error(`Edition ${editionId} has no stored message; was it built?`);
    const newsletter = this.deps.newsletter(edition.newsletterId);
    const template = prepareMimeTemplate(JSON.parse(json) as MimeTemplate);
    const listsMailto = template.parts.some((p) => !Buffer.isBuffer(p) && p.slot === 'unsubscribeMailto');
    const mailbox = listsMailto ? verpSettings(this.deps.config) : undefined;
    if (listsMailto && !mailbox) throw new Error(`Edition ${editionId} lists a mailto unsubscribe but delivery.bounceDomain is no longer set`);
    const windowMs = retryWindowMs(this.deps.config.delivery, newsletter);
    const closesAt = sendWindowCloses(edition, windowMs).getTime();
    const waves = await this.deps.editions.waves(editionId);
    // Each wave's window runs from its own time (a forced wave's jobs carry their own, as resends do).
    const waveCloses = waves ? new Map(waves.map((w) => [w.zone, w.due.getTime() + windowMs])) : undefined;
    return { editionId, newsletter, template, domain: senderDomain(newsletter.from), mailbox, closesAt, waveCloses };
  }

  /** When this job's window closes: a resend's or forced wave's own, its wave's, or the edition's. */
  private async closesAtOf(job: Job<SendJobData>, ctx: EditionContext): Promise<number> {
    if (job.data.u !== undefined) return job.data.u;
    if (!job.data.w || !ctx.waveCloses) return ctx.closesAt;
    let closes = ctx.waveCloses.get(job.data.w);
    if (closes === undefined) {
      // A wave planned after this process first loaded the edition (a reader moved to a new zone).
      const windowMs = retryWindowMs(this.deps.config.delivery, ctx.newsletter);
      for (const w of (await this.deps.editions.waves(ctx.editionId)) ?? []) ctx.waveCloses.set(w.zone, w.due.getTime() + windowMs);
      closes = ctx.waveCloses.get(job.data.w);
    }
    return closes ?? ctx.closesAt;
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
    const slots = this.slotsOf(job.queueName);
    if (!slots) return this.processOne(job, token);
    const release = await slots.acquire();
    try {
      return await this.processOne(job, token);
    } finally {
      release();
    }
  }

  private async processOne(job: Job<SendJobData>, token: string | undefined): Promise<SendOutcome> {
    const { e: editionId, s: subscriberId, w: wave } = job.data;
    const deps = this.deps;
    const ctx = await this.context(editionId);
    const { newsletter } = ctx;
    const started = performance.now();
    // The provider group this reader is paced in: the queue the job is on.
    const group = sendQueueGroup(job.queueName);
    // A resend carries its own window (ops chose to send now); a wave its own; the edition's otherwise.
    const closesAt = await this.closesAtOf(job, ctx);
    // A retry once the window has closed: the reader is failed with the last failure, never mailed late.
    if (job.attemptsMade > 0 && deps.clock.now().getTime() >= closesAt) return this.failAtWindowEnd(job, ctx, closesAt, group);
    // The relay is unreachable (here or in any worker of the install): wait, nobody is charged.
    const gate = await this.breaker.gate();
    if (gate.kind === 'open') {
      if (deps.clock.now().getTime() >= closesAt) return this.cutOffAtWindowEnd(job, ctx, closesAt, gate.state);
      await deps.queues.send(newsletter.id, group).rateLimit(gate.retryInMs);
      throw Worker.RateLimitError();
    }
    // The provider kept deferring until a send window closed: it is not hammered. Its readers wait
    // out the pause (the group's queue stops taking jobs for a while, in every worker), and once
    // their own window has closed they are failed with the reason, without SMTP.
    const pause = this.pacer?.pauseOf(group);
    if (pause) {
      const at = deps.clock.now();
      if (at.getTime() < closesAt) {
        await deps.queues.send(newsletter.id, group).rateLimit(Math.max(1000, Math.min(5000, pause.until.getTime() - at.getTime(), closesAt - at.getTime())));
        throw Worker.RateLimitError();
      }
      const reason = `not sent: ${group} was paused until ${pause.until.toISOString()} (${pause.reason}) and the send window closed at ${formatWindowEnd(new Date(closesAt), newsletter.timezone)}`;
      const [settled] = await deps.editions.giveUp(editionId, [{ subscriberId, reason, wave }], at);
      // Not the reader's fault, so not a bounce: the outcome carries no failure.
      if (settled) await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: '', diagnostic: reason, permanent: false, at });
      return settled ? 'failed' : 'already-settled';
    }
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
      wave,
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
      case 'cut-off':
        // The edition's window closed in a relay outage: the claim settled this reader as failed.
        await deps.outcomes.publish('cut-off', { editionId, newsletterId: newsletter.id, readers: 1, reason: claim.reason });
        return 'failed';
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
        await Promise.all(deps.queues.sendQueues(newsletter.id).map((q) => q.rateLimit(Math.max(1000, tomorrow - now.getTime()))));
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
      await deps.editions.settle(editionId, subscriberId, 'f', detail, deps.clock.now(), wave);
      await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: detail, permanent: true, at: deps.clock.now() });
      deps.logger.error({ editionId, subscriberId, err: error }, 'message could not be built');
      return 'failed';
    }
    try {
      await deps.transport.send({ envelopeFrom: envelopeSender(deps.config, newsletter, editionId, subscriberId), to: claim.email, raw, messageId, editionId, subscriberId });
    } catch (error) {
      const failure = classifySmtpError(error);
      // A provider asking us to slow down answered for its readers (nodemailer reports its 421 as
      // the session closing): the relay is fine, and only that provider's pace drops.
      const slowDown = this.pacer !== undefined && isRateDeferral(failure);
      if (failure.kind === 'connection' && !slowDown) await this.breaker.recordConnectionFailure(subscriberId, failure);
      else this.breaker.recordAnswered();
      if (slowDown) await this.pacer?.recordDeferral(editionId, group, replyDetail(failure));
      if (failure.kind !== 'permanent') {
        const at = deps.clock.now();
        if (slowDown && at.getTime() >= closesAt) await this.pacer?.pauseAtWindowEnd(editionId, group, replyDetail(failure));
        if (at.getTime() < closesAt) {
          // Retried by BullMQ (capped backoff) until the window closes; nothing is published, so a
          // failure that passes never reaches the bounce policy. The failure is kept on the job
          // for the reason, should the window close first.
          deps.logger.debug({ editionId, subscriberId, failure }, 'send failed; will retry');
          await job.updateData({ ...job.data, lf: { ...failure, diagnostic: failure.diagnostic.slice(0, 300), to: claim.email } });
          throw new Error(`Send of ${editionId} to subscriber ${subscriberId} failed (${failure.kind}): ${failure.diagnostic}`);
        }
        const detail = windowEndReason(failure, closesAt, newsletter.timezone);
        await deps.editions.settle(editionId, subscriberId, 'f', detail, at, wave);
        await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: detail, permanent: false, failure, at });
        deps.logger.warn({ editionId, subscriberId, failure, attempts: job.attemptsMade + 1 }, 'send failed until the send window closed');
        return 'failed';
      }
      const detail = replyDetail(failure);
      await deps.editions.settle(editionId, subscriberId, 'f', detail, deps.clock.now(), wave);
      // The bounce side subscribes to this (a refusal at send time is a bounce); delivery never calls it.
      await deps.outcomes.publish('failed', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, diagnostic: failure.diagnostic, permanent: true, failure, at: deps.clock.now() });
      deps.logger.warn({ editionId, subscriberId, failure, attempts: job.attemptsMade + 1 }, 'send failed');
      return 'failed';
    }
    this.breaker.recordAnswered();
    this.pacer?.recordSent(editionId, group);
    await deps.editions.settle(editionId, subscriberId, 's', messageId, deps.clock.now(), wave);
    await deps.outcomes.publish('sent', { editionId, newsletterId: newsletter.id, subscriberId, email: claim.email, messageId, ms: performance.now() - started });
    return 'sent';
  }

  /** A retry picked up after the window closed: fails the reader (if still unsent) with the last failure. */
  private async failAtWindowEnd(job: Job<SendJobData>, ctx: EditionContext, closesAt: number, group: string): Promise<SendOutcome> {
    const { e: editionId, s: subscriberId, w: wave } = job.data;
    const at = this.deps.clock.now();
    if (!job.data.lf) {
      // It never reached the transport (an unexpected error): say what it was.
      const detail = `${(job.failedReason || 'failed earlier').slice(0, 300)}; retried until the send window closed at ${formatWindowEnd(new Date(closesAt), ctx.newsletter.timezone)}`;
      const [settled] = await this.deps.editions.giveUp(editionId, [{ subscriberId, reason: detail, wave }], at);
      return settled ? 'failed' : 'already-settled';
    }
    const { to, ...failure } = job.data.lf;
    // Its provider kept asking us to slow down until the window closed: it is paused, not hammered.
    if (this.pacer && isRateDeferral(failure)) await this.pacer.pauseAtWindowEnd(editionId, group, replyDetail(failure));
    const detail = windowEndReason(failure, closesAt, ctx.newsletter.timezone);
    const [settled] = await this.deps.editions.giveUp(editionId, [{ subscriberId, reason: detail, wave }], at);
    if (!settled) return 'already-settled';
    // A reader's own server deferring to the end still counts as a soft bounce (the failure names them).
    await this.deps.outcomes.publish('failed', { editionId, newsletterId: ctx.newsletter.id, subscriberId, email: to ?? '', diagnostic: detail, permanent: false, failure: to ? failure : undefined, at });
    return 'failed';
  }

  /**
   * The window closed while the relay is unreachable: every reader of the edition not yet sent is
   * failed with the reason, once, and nothing more of it is sent (unless ops resend).
   */
  private async cutOffAtWindowEnd(job: Job<SendJobData>, ctx: EditionContext, closesAt: number, breaker: TransportBreakerState): Promise<SendOutcome> {
    const { editionId, newsletter } = ctx;
    const reason = `relay unreachable until the send window closed at ${formatWindowEnd(new Date(closesAt), newsletter.timezone)}${breaker.lastError ? ` (${breaker.lastError})` : ''}`;
    const now = this.deps.clock.now();
    // Sent in waves, each with its own window: only this reader's has closed, so only they are failed.
    const readers = ctx.waveCloses ? 0 : await this.deps.editions.cutOff(editionId, reason, now);
    if (readers === 0) {
      // Cut off already (by another job): this job's own reader, if still unsent, goes the same way.
      const [settled] = await this.deps.editions.giveUp(editionId, [{ subscriberId: job.data.s, reason, wave: job.data.w }], now);
      if (settled) await this.deps.outcomes.publish('cut-off', { editionId, newsletterId: newsletter.id, readers: 1, reason });
      return settled ? 'failed' : 'already-settled';
    }
    await this.deps.outcomes.publish('cut-off', { editionId, newsletterId: newsletter.id, readers, reason });
    this.deps.logger.warn({ editionId, readers }, `${reason}: ${readers} reader(s) not sent; \`daybreak resend ${editionId} --failed\` sends them`);
    return 'failed';
  }

  /**
   * A job out of tries on an unexpected error (not the transport's answer, which process() records
   * itself) still settles its reader as failed, so the edition can finish.
   */
  async settleGivenUp(job: Job<SendJobData>, err: Error): Promise<void> {
    if (job.attemptsMade < (job.opts.attempts ?? 1)) return;
    try {
      await this.deps.editions.giveUp(job.data.e, [{ subscriberId: job.data.s, reason: `gave up after ${job.attemptsMade} attempts: ${err.message}`, wave: job.data.w }], this.deps.clock.now());
    } catch (error) {
      this.deps.logger.error({ err: error, editionId: job.data.e }, 'could not record a failed send');
    }
  }
}

/** The server's reply, with its code and status once ("550 5.1.1 <a@b>: no such user"). */
function replyDetail(failure: SmtpFailure): string {
  const prefix = [failure.replyCode, failure.status].filter(Boolean).join(' ');
  return failure.diagnostic.startsWith(prefix) ? failure.diagnostic : `${prefix} ${failure.diagnostic}`.trim();
}

/** Why a reader was failed when the window closed: the relay never took it, or their server kept deferring. */
function windowEndReason(failure: SmtpFailure, closesAt: number, timeZone: string): string {
  const end = formatWindowEnd(new Date(closesAt), timeZone);
  // A provider asking us to slow down (its 421 closes the session) is not the relay being unreachable.
  if (failure.kind === 'connection' && !isRateDeferral(failure)) return `relay unreachable until the send window closed at ${end} (${replyDetail(failure)})`;
  return `${replyDetail(failure)}; retried until the send window closed at ${end}`;
}
