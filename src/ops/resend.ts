/** Ops resends: plan who would get an edition again (--to, --failed, --unsent), then queue and follow the sends. */
import { QueueEvents, type ConnectionOptions, type Worker } from 'bullmq';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import { DaybreakError, isRedisConnectionError, type ErrorCode } from '../core/errors';
import type { Logger } from '../core/logger';
import type { Edition } from '../delivery/edition';
import type { EditionStore } from '../delivery/edition-store';
import { sendJobRetries, type DeliveryQueues, type SendJobData } from '../delivery/queues';
import { retryWindowMs, sendWindowCloses } from '../delivery/send-window';
import type { SendOutcome } from '../delivery/send-processor';
import { createSendWorkers, type WorkerDeps } from '../delivery/workers';
import { senderDomain } from '../mail/addresses';
import { messageIdFor, messageNonce } from '../mail/personalise';
import type { ProviderDirectory } from '../delivery/provider-directory';
import { domainOf } from '../delivery/providers';
import { normaliseEmail } from '../subscribers/email';
import type { SubscriberStore } from '../subscribers/store';
import { currentOperator } from './control';
import { getEditionOrThrow } from './status';
import { watchRedisOutage } from '../core/redis-outage';

export type ResendDeps = WorkerDeps & {
  editions: Pick<EditionStore, 'get' | 'list' | 'fanoutDone' | 'ledgerEntries' | 'ledgerEntry' | 'log' | 'requeueFailed' | 'scanLedger'>;
  subscribers: Pick<SubscriberStore, 'deliverability' | 'findByEmail' | 'pageMembers'>;
  queues: Pick<DeliveryQueues, 'send' | 'sendQueues'>;
  /** Resends are paced like the edition: each reader on their mailbox provider's queue. */
  providers: Pick<ProviderDirectory, 'groupsOf'>;
  clock: Clock;
  logger: Logger;
  config: Pick<LoadedConfig, 'delivery' | 'redisUrl' | 'secret'>;
};

/**
 * Ops resends. The ledger stays the only guard against double sends:
 * - `--unsent` adds plain send jobs: a claim never sends to anyone already marked sent, so a
 *   reader is mailed at most once however many jobs (the original ones included) exist for them.
 * - `--failed` first turns each still-failed ledger entry back into "queued" atomically (and moves
 *   the failed count), then adds plain jobs: run twice, the second run finds nothing failed.
 * - `--to` is the one explicit override: a forced job sends even to someone already sent.
 */

export class ResendError extends DaybreakError {
  constructor(code: ErrorCode, readonly editionId: string, message: string) {
    super(code, message, { context: { edition: editionId } });
    this.name = 'ResendError';
  }
}

export interface ResendRequest {
  to?: string;
  failed?: boolean;
  unsent?: boolean;
}

export type TargetReason = 'explicit' | 'failed' | 'queued' | 'claimed' | 'not-in-ledger';

export interface ResendTarget {
  subscriberId: string;
  email?: string;
  reason: TargetReason;
  /** The ledger's note: the failure, who holds a claim, when it was queued. */
  detail?: string;
  /** Why the claim will skip this reader instead of sending (unsubscribed, suppressed...). */
  skipBecause?: string;
}

export interface ResendPlan {
  editionId: string;
  newsletterId: string;
  mode: string;
  /** Who gets a job: those without `skipBecause` would be sent a copy. */
  targets: ResendTarget[];
  /** Failed sends left alone because the reader is no longer deliverable. */
  notEligible: ResendTarget[];
  /** The plan covered every current member: an interrupted fan-out is complete once these are queued. */
  completesFanout: boolean;
}

const sendableStates = new Set(['sending', 'done']);


/** Why a send to this reader would be skipped now (the claim's own rule), or undefined when it would go. */
async function deliverability(deps: ResendDeps, newsletterId: string, ids: string[]): Promise<Map<string, { email?: string; skipBecause?: string }>> {
  const checked = await deps.subscribers.deliverability(newsletterId, ids);
  return new Map([...checked].map(([id, { email, reason }]) => [id, { email, skipBecause: reason }]));
}

function describeMode(request: ResendRequest): string {
  if (request.to) return 'to';
  return [request.failed ? 'failed' : '', request.unsent ? 'unsent' : ''].filter(Boolean).join('+');
}

function assertSendable(edition: Edition): void {
  if (edition.readersDroppedAt) throw new ResendError('refused', edition.id, `Edition ${edition.id} is past its retention: who got it was forgotten on ${edition.readersDroppedAt.toISOString().slice(0, 10)} (its counts and archive page are kept), so it cannot be resent.`);
  if (edition.state === 'paused') throw new ResendError('conflict', edition.id, `Edition ${edition.id} is paused; resume it first (\`daybreak resume ${edition.id}\`), or its queue would hold the resend too.`);
  if (edition.state === 'cancelled') throw new ResendError('refused', edition.id, `Edition ${edition.id} was cancelled; a cancelled edition sends nothing more.`);
  if (!sendableStates.has(edition.state)) {
    throw new ResendError('conflict', edition.id, `Edition ${edition.id} is ${edition.state}; only an edition that has been sending (sending or done) can be resent.${edition.state === 'held' || edition.state === 'failed' || edition.state === 'created' || edition.state === 'building' ? ` \`daybreak run-edition ${edition.newsletterId} --date ${edition.localDate}\` builds and sends it.` : ''}`);
  }
}

/** Who a resend would reach, and why; reads only. */
export async function planResend(deps: ResendDeps, editionId: string, request: ResendRequest): Promise<ResendPlan> {
  const modes = [request.to !== undefined, Boolean(request.failed), Boolean(request.unsent)].filter(Boolean).length;
  if (modes === 0) throw new ResendError('bad-input', editionId, 'Say whom to resend to: --to EMAIL, --failed or --unsent (--failed and --unsent combine).');
  if (request.to !== undefined && modes > 1) throw new ResendError('bad-input', editionId, '--to resends to one reader; it does not combine with --failed or --unsent.');
  const edition = await getEditionOrThrow(deps, editionId);
  assertSendable(edition);
  const nl = edition.newsletterId;
  const plan: ResendPlan = { editionId, newsletterId: nl, mode: describeMode(request), targets: [], notEligible: [], completesFanout: false };

  if (request.to !== undefined) {
    const subscriber = await deps.subscribers.findByEmail(normaliseEmail(request.to));
    if (!subscriber) throw new ResendError('not-found', editionId, `No subscriber has the address ${request.to}. (\`daybreak test-send ${nl} --to ${request.to} --date ${edition.localDate}\` sends a marked test copy to any address.)`);
    const check = (await deliverability(deps, nl, [subscriber.id])).get(subscriber.id);
    if (check?.skipBecause) {
      const fix = check.skipBecause === 'suppressed' ? ' Suppression protects the sender: remove the suppression first if the address really works again.' : '';
      throw new ResendError('refused', editionId, `Subscriber ${subscriber.id} <${subscriber.email}> cannot be sent ${editionId}: ${check.skipBecause}.${fix}`);
    }
    const entry = await deps.editions.ledgerEntry(editionId, subscriber.id);
    // A sent copy's Message-ID is derived, not stored (mail/personalise.ts): shown as it went out.
    const detail = entry?.kind === 'sent' && !entry.detail ? messageIdFor(editionId, subscriber.id, senderDomain(deps.newsletter(nl).from), messageNonce(deps.config.secret, editionId, subscriber.id)) : entry?.detail;
    plan.targets.push({ subscriberId: subscriber.id, email: subscriber.email, reason: 'explicit', detail: entry ? `${entry.kind}${detail ? `: ${detail}` : ''}` : 'not in this edition yet' });
    return plan;
  }

  const candidates: ResendTarget[] = [];
  for await (const entry of deps.editions.scanLedger(editionId)) {
    if (request.failed && entry.kind === 'failed') candidates.push({ subscriberId: entry.subscriberId, reason: 'failed', detail: entry.detail });
    if (request.unsent && (entry.kind === 'queued' || entry.kind === 'claimed')) {
      candidates.push({ subscriberId: entry.subscriberId, reason: entry.kind, detail: entry.kind === 'claimed' ? `claimed ${entry.detail} (waits for that lease)` : `queued at ${entry.at?.toISOString()}` });
    }
  }
  if (request.unsent && !edition.fanoutDone) {
    // The fan-out never finished: current members it did not reach have no ledger entry at all.
    // (After a finished fan-out, people who joined later are not this edition's readers.)
    let cursor = 0;
    for (;;) {
      const ids = await deps.subscribers.pageMembers(nl, cursor, 1000);
      if (ids.length === 0) break;
      cursor = Number(ids[ids.length - 1]);
      const present = await deps.editions.ledgerEntries(editionId, ids);
      ids.forEach((id, i) => {
        if (present[i] === undefined) candidates.push({ subscriberId: id, reason: 'not-in-ledger', detail: 'never queued: the fan-out was interrupted' });
      });
    }
    plan.completesFanout = true;
  }
  const checks = await deliverability(deps, nl, candidates.map((c) => c.subscriberId));
  for (const c of candidates) {
    const check = checks.get(c.subscriberId);
    const target = { ...c, email: check?.email, skipBecause: check?.skipBecause };
    // A failed send to someone no longer deliverable stays failed; an unsent one still gets its job,
    // so the claim settles it as skipped and the edition can finish.
    if (c.reason === 'failed' && target.skipBecause) plan.notEligible.push(target);
    else plan.targets.push(target);
  }
  const byId = (a: ResendTarget, b: ResendTarget) => Number(a.subscriberId) - Number(b.subscriberId);
  plan.targets.sort(byId);
  plan.notEligible.sort(byId);
  return plan;
}

export interface ResendProgress {
  total: number;
  done: number;
  outcomes: Record<string, number>;
}

export interface ResendResult {
  editionId: string;
  queued: number;
  /** Failed entries that were no longer failed when the resend ran (someone else resent them). */
  alreadyHandled: number;
  outcomes: Record<string, number>;
  /** Per reader: what their job did. */
  perSubscriber: Map<string, string>;
  /** This command ran send workers of its own while it waited (it always does when it waits). */
  broughtWorkers: boolean;
  /** Worker connections of other processes on the queue when it started (they may help, or go). */
  otherWorkers: number;
  waited: boolean;
  ms: number;
}

/** Carries out a plan: queues the jobs, records who did it, and (by default) waits for every job. */
export async function executeResend(
  deps: ResendDeps,
  plan: ResendPlan,
  options: { by?: string; wait?: boolean; concurrency?: number; onProgress?: (p: ResendProgress) => void; timeoutMs?: number } = {},
): Promise<ResendResult> {
  const started = performance.now();
  const by = options.by ?? currentOperator();
  const wait = options.wait ?? true;
  const { editionId, newsletterId } = plan;
  const edition = await getEditionOrThrow(deps, editionId);
  assertSendable(edition);
  const queues = deps.queues.sendQueues(newsletterId);
  if ((await Promise.all(queues.map((q) => q.isPaused()))).some(Boolean)) throw new ResendError('conflict', editionId, `The ${newsletterId} send queue is paused (an edition of ${newsletterId} is paused: \`daybreak editions --newsletter ${newsletterId}\`); resume or cancel it first.`);
  const log = deps.logger.child({ editionId });
  const now = deps.clock.now();

  let targets = plan.targets;
  let alreadyHandled = 0;
  const failedIds = targets.filter((t) => t.reason === 'failed').map((t) => t.subscriberId);
  if (failedIds.length) {
    const requeued = new Set(await deps.editions.requeueFailed(editionId, failedIds, now, `resend (${by})`));
    alreadyHandled = failedIds.length - requeued.size;
    targets = targets.filter((t) => t.reason !== 'failed' || requeued.has(t.subscriberId));
  }

  // Each reader goes to their mailbox provider's queue (pacing), as the edition's own jobs did.
  const groups = await deps.providers.groupsOf(editionId, targets.map((t) => domainOf(t.email ?? '')));
  const queueOf = (t: ResendTarget) => deps.queues.send(newsletterId, groups.get(domainOf(t.email ?? '')));
  const used = [...new Set(targets.map(queueOf))];
  // Subscribe to each queue's event stream from its current end BEFORE adding, so no outcome is missed.
  const watched: Array<{ events: QueueEvents; connection: ReturnType<typeof deps.redis.duplicate> }> = [];
  if (wait) {
    for (const queue of used) {
      const connection = deps.redis.duplicate();
      const last = await deps.redis.xrevrange(queue.keys.events as string, '+', '-', 'COUNT', 1);
      const events = new QueueEvents(queue.name, { connection: connection as ConnectionOptions, prefix: deps.keys.bull, lastEventId: last[0]?.[0] ?? '0-0' });
      // Its own connection's errors: a Redis outage is reported once by the main connection.
      events.on('error', (err) => { if (!isRedisConnectionError(err)) log.error({ err }, 'queue events error'); });
      watched.push({ events, connection });
    }
  }
  const stamp = now.getTime().toString(36) + Math.random().toString(36).slice(2, 6);
  const jobIds = new Map<string, string>();
  // Ops chose to send now: the resend gets a send window of its own from now (or the edition's, if later).
  const windowMs = retryWindowMs(deps.config.delivery, deps.newsletter(newsletterId));
  const until = Math.max(sendWindowCloses(edition, windowMs).getTime(), now.getTime() + windowMs);
  const retries = sendJobRetries(deps.config.delivery, until - now.getTime());
  const force = plan.mode === 'to';
  const perSubscriber = new Map<string, string>();
  const outcomes: Record<string, number> = {};
  const workers: Worker[] = [];
  let broughtWorkers = false;
  let outage: ReturnType<typeof watchRedisOutage> | undefined;
  try {
    const pendingOutcome = new Map<string, (outcome: string) => void>();
    const settle = (jobId: string, outcome: string) => {
      const sub = jobIds.get(jobId);
      if (!sub || perSubscriber.has(sub)) return;
      perSubscriber.set(sub, outcome);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      options.onProgress?.({ total: jobIds.size, done: perSubscriber.size, outcomes: { ...outcomes } });
      pendingOutcome.get('any')?.(outcome);
    };
    for (const { events } of watched) {
      events.on('completed', ({ jobId, returnvalue }) => settle(jobId, String(returnvalue as unknown as SendOutcome)));
      events.on('failed', ({ jobId, failedReason }) => settle(jobId, `error: ${failedReason}`));
      await events.waitUntilReady();
    }

    const jobQueue = new Map<string, ReturnType<DeliveryQueues['send']>>();
    for (const t of targets) {
      const jobId = `resend.${editionId}.${t.subscriberId}.${stamp}`;
      jobIds.set(jobId, t.subscriberId);
      jobQueue.set(jobId, queueOf(t));
    }
    for (const queue of used) {
      const entries = [...jobIds].filter(([jobId]) => jobQueue.get(jobId) === queue);
      for (let i = 0; i < entries.length; i += 500) {
        await queue.addBulk(entries.slice(i, i + 500).map(([jobId, s]) => ({
          name: 'resend',
          data: (force ? { e: editionId, s, f: 1, u: until } : { e: editionId, s, u: until }) satisfies SendJobData,
          opts: { jobId, ...retries, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } },
        })));
      }
    }
    if (plan.completesFanout && !edition.fanoutDone) {
      // Every member now has a ledger entry or a job: the fan-out's work is done, so the edition can finish.
      await deps.editions.fanoutDone(editionId, deps.clock.now(), { detail: { by: `resend (${by})`, queued: jobIds.size } });
    }
    await deps.editions.log(editionId, now, 'resend', {
      by, mode: plan.mode, queued: jobIds.size, ...(alreadyHandled ? { alreadyHandled } : {}),
      subscribers: targets.slice(0, 20).map((t) => t.subscriberId), ...(targets.length > 20 ? { more: targets.length - 20 } : {}),
    });
    log.info({ by, mode: plan.mode, queued: jobIds.size }, 'resend queued');

    const otherWorkers = await (queues[0] as ReturnType<DeliveryQueues['send']>).getWorkersCount();
    if (!wait || jobIds.size === 0) return { editionId, queued: jobIds.size, alreadyHandled, outcomes, perSubscriber, broughtWorkers, otherWorkers, waited: false, ms: performance.now() - started };

    // A command that waits for its sends also makes them: workers it merely found may belong to
    // another command that ends (and closes them) first, and then nobody would (two resends at
    // once stranded readers that way). Other workers still help; the limits live in Redis.
    workers.push(...createSendWorkers(deps, { newsletters: [newsletterId], concurrency: options.concurrency }));
    broughtWorkers = true;
    options.onProgress?.({ total: jobIds.size, done: perSubscriber.size, outcomes: { ...outcomes } });
    const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;
    // A Redis outage is waited out up to a bound, then the command ends (exit 3) instead of hanging.
    outage = watchRedisOutage(deps.redis, { limitMs: deps.config.delivery.redisOutageLimitSeconds * 1000, url: deps.config.redisUrl, what: `The resend's jobs stay queued and are sent once Redis is back and a worker runs (\`daybreak status ${editionId}\`).` });
    let gaveUp = false;
    const waitForAll = async () => {
      let quietSince = Date.now();
      while (!gaveUp && perSubscriber.size < jobIds.size) {
        const heard = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 1000);
          pendingOutcome.set('any', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (heard) quietSince = Date.now();
        else if (Date.now() - quietSince > 3000) {
          // Belt and braces: read the jobs themselves if the event stream has been quiet a while.
          quietSince = Date.now();
          const open = [...jobIds.keys()].filter((j) => !perSubscriber.has(jobIds.get(j) as string)).slice(0, 200);
          for (const jobId of open) {
            const job = await jobQueue.get(jobId)?.getJob(jobId);
            if (job?.finishedOn) settle(jobId, job.failedReason ? `error: ${job.failedReason}` : String(job.returnvalue));
          }
        }
        if (Date.now() > deadline) throw new ResendError('internal', editionId, `Resend still running after ${Math.round((options.timeoutMs ?? 0) / 1000)} s: ${perSubscriber.size} of ${jobIds.size} done; the rest stay queued.`);
      }
    };
    const waiting = waitForAll();
    // Should Redis stay away, the loop is left behind: it stops at its next turn, quietly.
    waiting.catch(() => undefined);
    await Promise.race([waiting, outage.expired]).catch((error: unknown) => {
      gaveUp = true;
      throw error;
    });
    await deps.editions.log(editionId, deps.clock.now(), 'resend-finished', { by, mode: plan.mode, ...outcomes });
    log.info({ by, mode: plan.mode, outcomes }, 'resend finished');
    return { editionId, queued: jobIds.size, alreadyHandled, outcomes, perSubscriber, broughtWorkers, otherWorkers, waited: true, ms: performance.now() - started };
  } finally {
    outage?.stop();
    if (deps.redis.status === 'ready') {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(watched.map(({ events }) => events.close()));
    } else {
      // Redis is gone: do not wait for jobs that cannot be recorded (they are taken over later).
      await Promise.race([Promise.all([...workers.map((w) => w.close(true)), ...watched.map(({ events }) => events.close())]).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    for (const { connection } of watched) connection.disconnect();
  }
}
