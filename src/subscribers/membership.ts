/** Reads of newsletter membership: confirmed members (the fan-out pages through them), pending ones, counts. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';

/**
 * The rule that decides membership is written once, in Lua (lua/includes/membership.lua), and
 * applied by every change to a reader (records.ts) and by the import; this module only reads.
 */
export interface NewsletterCounts {
  confirmed: number;
  pending: number;
  /** Readers who have left this newsletter, counted as they leave. */
  unsubscribed: number;
}

/** Splits a key built by a Keys method around a placeholder, so Lua can build it for any newsletter. */
export function keyParts(build: (id: string) => string): [string, string] {
  const marker = '\u0000';
  const [pre, suf] = build(marker).split(marker) as [string, string];
  return [pre, suf];
}

/** The four key parts the membership rule needs: member and pending set keys around the newsletter id. */
export function membershipKeyParts(keys: Keys): [string, string, string, string] {
  return [...keyParts((nl) => keys.members(nl)), ...keyParts((nl) => keys.pendingMembers(nl))];
}

export class Membership {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** One page of a newsletter's confirmed members after `afterId`, in stable id order. */
  async pageMembers(newsletterId: string, afterId: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.members(newsletterId), `(${afterId}`, '+inf', 'LIMIT', 0, limit);
  }

  async countMembers(newsletterId: string): Promise<number> {
    return this.redis.zcard(this.keys.members(newsletterId));
  }

  /** Confirmed and pending readers per newsletter, and how many have left it. */
  async counts(newsletterIds: string[]): Promise<Record<string, NewsletterCounts>> {
    const pipe = this.redis.pipeline();
    for (const nl of newsletterIds) {
      pipe.zcard(this.keys.members(nl));
      pipe.zcard(this.keys.pendingMembers(nl));
      pipe.hget(this.keys.newsletterCounters(), `${nl}:unsubscribed`);
    }
    const results = (await pipe.exec()) ?? [];
    const out: Record<string, NewsletterCounts> = {};
    newsletterIds.forEach((nl, i) => {
      const value = (j: number) => Number(results[i * 3 + j]?.[1] ?? 0);
      out[nl] = { confirmed: value(0), pending: value(1), unsubscribed: value(2) };
    });
    return out;
  }

  /** Erasure's part: the reader leaves every set, counted as nothing (an erased reader did not unsubscribe). */
  async forget(subscriberId: string, newsletterIds: Iterable<string>): Promise<void> {
    const tx = this.redis.multi();
    for (const nl of new Set(newsletterIds)) {
      tx.zrem(this.keys.members(nl), subscriberId);
      tx.zrem(this.keys.pendingMembers(nl), subscriberId);
    }
    await tx.exec();
  }
}
