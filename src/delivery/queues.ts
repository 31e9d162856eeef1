/** The BullMQ queues: one for edition builds, one per newsletter for sends, and what their jobs carry. */
import { Queue, type ConnectionOptions } from 'bullmq';
import type Redis from 'ioredis';

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

  constructor(private readonly connection: Redis, private readonly prefix: string) {
    this.editions = new Queue<BuildJobData>(editionQueueName, { connection: connection as ConnectionOptions, prefix });
  }

  send(newsletterId: string): Queue<SendJobData> {
    let queue = this.sends.get(newsletterId);
    if (!queue) {
      queue = new Queue<SendJobData>(sendQueueName(newsletterId), { connection: this.connection as ConnectionOptions, prefix: this.prefix });
      this.sends.set(newsletterId, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([this.editions.close(), ...[...this.sends.values()].map((q) => q.close())]);
  }
}
