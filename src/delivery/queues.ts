/** The pipeline's BullMQ queues, what their jobs carry, and how send jobs are retried. */
import { Queue, type ConnectionOptions } from 'bullmq';
import type Redis from 'ioredis';
import { otherGroup } from '../config/pacing-schema';
import type { DeliveryConfig } from '../config/schema';
import type { SmtpFailure } from '../mail/transports';
import { sendAttempts, sendBackoffType } from './send-window';

/** Build + fan-out jobs, one per edition. */
export const editionQueueName = 'editions';
/** The provider group of every address no other group claims: its queue is the newsletter's own. */
const catchAllGroup = otherGroup;

/**
 * Send jobs: one queue per newsletter and provider group (docs/delivery.md), so each group's pace
 * binds every worker (BullMQ queue limits, in Redis) and a slowed group holds up only its own
 * queue. Addresses no group claims (and every address, with pacing off) use `send.<newsletter>`.
 */
export function sendQueueName(newsletterId: string, group: string = catchAllGroup): string {
  return group === catchAllGroup ? `send.${newsletterId}` : `send.${newsletterId}.${group}`;
}

/** The newsletter a send queue is for (`send.national.google` -> national). */
export function sendQueueNewsletter(queueName: string): string {
  return queueName.split('.')[1] ?? '';
}

/** The provider group a send queue is for (`send.national.google` -> google). */
export function sendQueueGroup(queueName: string): string {
  const parts = queueName.split('.');
  return parts.length > 2 ? (parts[2] as string) : catchAllGroup;
}

export interface BuildJobData {
  editionId: string;
}

/** Kept small on purpose: ids only, never rendered content (memory stays flat with the list). */
export interface SendJobData {
  /** edition id */
  e: string;
  /** subscriber id */
  s: string;
  /** resend even if already sent (explicit ops resend) */
  f?: 1;
  /** The zone of the wave it is sent in (an edition delivered in readers' zones): its counts, its send window. */
  w?: string;
  /** A resend's own send window: retries stop at this time (ms). Absent: the edition's window. */
  u?: number;
  /** The last failure, once a try failed (kept for the reason if the window closes before a retry succeeds). */
  lf?: SmtpFailure & { to?: string };
}

/**
 * Attempts and backoff of a send job: BullMQ schedules the retries (exponential from
 * delivery.backoffMs, capped at retryBackoffMaxMs, by the send workers' backoff strategy), and the
 * attempts cover the whole window; the window's end, checked by the processor, ends them.
 */
export function sendJobRetries(delivery: Pick<DeliveryConfig, 'backoffMs' | 'retryBackoffMaxMs'>, windowMs: number): { attempts: number; backoff: { type: string; delay: number } } {
  return { attempts: sendAttempts(delivery, windowMs), backoff: { type: sendBackoffType, delay: delivery.backoffMs } };
}

/** True when this run of the job is its last allowed attempt (BullMQ counts attempts made before it). */
export function isLastAttempt(job: { attemptsMade: number; opts: { attempts?: number } }): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function sendJobId(editionId: string, subscriberId: string): string {
  return `${editionId}.${subscriberId}`;
}

export class DeliveryQueues {
  readonly editions: Queue<BuildJobData>;
  private readonly sends = new Map<string, Queue<SendJobData>>();

  /**
   * `onError` hears the queues' errors (a queue with no listener prints each one as a raw stack:
   * dozens a second while Redis is down). The caller decides; Redis outages are reported once by
   * the connection itself (src/core/redis.ts). `groups`: the named provider groups, each with a
   * queue per newsletter (none with pacing off).
   */
  constructor(private readonly connection: Redis, private readonly prefix: string, private readonly onError: (error: Error) => void = () => undefined, readonly groups: readonly string[] = []) {
    this.editions = new Queue<BuildJobData>(editionQueueName, { connection: connection as ConnectionOptions, prefix });
    this.editions.on('error', onError);
  }

  /** The newsletter's send queue for a provider group (its catch-all queue when none is named). */
  send(newsletterId: string, group: string = catchAllGroup): Queue<SendJobData> {
    const name = sendQueueName(newsletterId, group);
    let queue = this.sends.get(name);
    if (!queue) {
      queue = new Queue<SendJobData>(name, { connection: this.connection as ConnectionOptions, prefix: this.prefix });
      queue.on('error', this.onError);
      this.sends.set(name, queue);
    }
    return queue;
  }

  /** Every send queue of the newsletter: its catch-all queue first, then one per provider group. */
  sendQueues(newsletterId: string): Array<Queue<SendJobData>> {
    return [catchAllGroup, ...this.groups].map((g) => this.send(newsletterId, g));
  }

  async close(): Promise<void> {
    await Promise.all([this.editions.close(), ...[...this.sends.values()].map((q) => q.close())]);
  }
}
