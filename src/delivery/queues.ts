/** The pipeline's BullMQ queues, what their jobs carry, and how send jobs are retried. */
import { Queue, type ConnectionOptions } from 'bullmq';
import type Redis from 'ioredis';
import type { DeliveryConfig } from '../config/schema';
import type { SmtpFailure } from '../mail/transports';
import { sendAttempts, sendBackoffType } from './send-window';

/** Build + fan-out jobs, one per edition. */
export const editionQueueName = 'editions';
/** Send jobs, one queue per newsletter so each has its own provider rate limit across all workers. */
export function sendQueueName(newsletterId: string): string {
  return `send.${newsletterId}`;
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
   * the connection itself (src/core/redis.ts).
   */
  constructor(private readonly connection: Redis, private readonly prefix: string, private readonly onError: (error: Error) => void = () => undefined) {
    this.editions = new Queue<BuildJobData>(editionQueueName, { connection: connection as ConnectionOptions, prefix });
    this.editions.on('error', onError);
  }

  send(newsletterId: string): Queue<SendJobData> {
    let queue = this.sends.get(newsletterId);
    if (!queue) {
      queue = new Queue<SendJobData>(sendQueueName(newsletterId), { connection: this.connection as ConnectionOptions, prefix: this.prefix });
      queue.on('error', this.onError);
      this.sends.set(newsletterId, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([this.editions.close(), ...[...this.sends.values()].map((q) => q.close())]);
  }
}
