/** Owner of the consent log: each reader's consent given and withdrawn, oldest first, kept until erasure. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';

/** One consent event. */
export interface ConsentRecord {
  at: string;
  action: 'given' | 'withdrawn';
  newsletters: string[];
  form?: string;
  consentText?: string;
  /** The sign-up request (double opt-in: the form post). */
  requestedAt?: string;
  ip?: string;
  userAgent?: string;
  /** The confirmation click. */
  confirmedIp?: string;
  confirmedUserAgent?: string;
  reason?: string;
  /** Newsletters whose per-reader click records the consent text shown covered (docs/editorial.md). */
  clickRecords?: string[];
}

export class ConsentLog {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** The key a change script appends to (records.ts applies a change and its consent entry together). */
  keyOf(subscriberId: string): string {
    return this.keys.subscriberConsent(subscriberId);
  }

  async read(subscriberId: string): Promise<ConsentRecord[]> {
    return (await this.redis.lrange(this.keys.subscriberConsent(subscriberId), 0, -1)).map((line) => JSON.parse(line) as ConsentRecord);
  }

  async forget(subscriberId: string): Promise<void> {
    await this.redis.del(this.keys.subscriberConsent(subscriberId));
  }
}
