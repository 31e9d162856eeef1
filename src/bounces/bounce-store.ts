/** Owner of the bounce keys: events already applied, the bounce log, soft-bounce windows, unreadable messages. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import type { BounceLogEntry } from './events';

/** A message we could not read, kept for ops (`daybreak bounces unparsed`). */
export interface UnparsedMessage {
  at: string;
  mailFrom: string;
  rcptTo: string[];
  from: string;
  subject: string;
  note: string;
  size: number;
  /** The message as received (latin1), cut at 256 KB. */
  raw: string;
}

export class BounceStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** Marks an event applied for `ttlSeconds`; false when it already was (a redelivery). */
  async markApplied(eventId: string, at: Date, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(this.keys.bounceSeen(eventId), at.toISOString(), 'EX', ttlSeconds, 'NX')) === 'OK';
  }

  /** Forgets an event that could not be applied, so the sender's retry gets another chance. */
  async forgetApplied(eventId: string): Promise<void> {
    await this.redis.del(this.keys.bounceSeen(eventId));
  }

  /**
   * Ties a provider's one-use token (Mailgun signs a token and timestamp, not the body) to the
   * event it came with; false when it came before with another event (a replay).
   */
  async claimToken(token: string, eventId: string, ttlSeconds: number): Promise<boolean> {
    const key = this.keys.bounceSeen(`mailgun-token:${token}`);
    await this.redis.set(key, eventId, 'EX', ttlSeconds, 'NX');
    return (await this.redis.get(key)) === eventId;
  }

  /** Adds a soft bounce to the address's window and returns the window's members after it (this one included). */
  async addSoftBounce(emailHash: string, member: string, at: Date, windowMs: number): Promise<string[]> {
    const key = this.keys.softBounces(emailHash);
    const reply = await this.redis.multi()
      .zadd(key, at.getTime(), member)
      .zremrangebyscore(key, '-inf', String(at.getTime() - windowMs))
      .zrange(key, '0', '-1')
      .pexpire(key, windowMs)
      .exec();
    return (reply?.[2]?.[1] as string[] | undefined) ?? [];
  }

  /** The address's soft-bounce count starts again (after an unsuppress). */
  async clearSoftBounces(emailHash: string): Promise<void> {
    await this.redis.del(this.keys.softBounces(emailHash));
  }

  /** Appends to the bounce log and drops entries past the retention. */
  async appendLog(entry: BounceLogEntry, retentionDays: number): Promise<void> {
    const at = new Date(entry.at).getTime();
    await this.redis.multi().zadd(this.keys.bounceLog(), at, JSON.stringify(entry)).zremrangebyscore(this.keys.bounceLog(), '-inf', String(at - retentionDays * 86_400_000)).exec();
  }

  /** Drops log entries past the retention (appending does too; this covers a quiet log). */
  async trimLog(now: Date, retentionDays: number): Promise<number> {
    return this.redis.zremrangebyscore(this.keys.bounceLog(), '-inf', String(now.getTime() - retentionDays * 86_400_000));
  }

  /** Log entries since `since`, newest first. */
  async logSince(since: Date): Promise<BounceLogEntry[]> {
    const raw = await this.redis.zrevrangebyscore(this.keys.bounceLog(), '+inf', since.getTime());
    return raw.map((l) => JSON.parse(l) as BounceLogEntry);
  }

  /** Keeps an unreadable message (newest first, at most `keep`). */
  async keepUnparsed(message: UnparsedMessage, keep: number): Promise<void> {
    if (keep === 0) return;
    const key = this.keys.unparsedBounces();
    await this.redis.multi().lpush(key, JSON.stringify(message)).ltrim(key, 0, keep - 1).exec();
  }

  async listUnparsed(limit: number): Promise<UnparsedMessage[]> {
    return (await this.redis.lrange(this.keys.unparsedBounces(), 0, limit - 1)).map((l) => JSON.parse(l) as UnparsedMessage);
  }

  async countUnparsed(): Promise<number> {
    return this.redis.llen(this.keys.unparsedBounces());
  }

  /**
   * Erasure: every log entry and kept message naming the address goes. Both are bounded (the log
   * by retention, the list by its cap), so a scan is cheap.
   */
  async forgetAddress(normalisedEmail: string): Promise<void> {
    const mentions = (text: string) => text.toLowerCase().includes(normalisedEmail);
    let cursor = '0';
    do {
      const [next, items] = await this.redis.zscan(this.keys.bounceLog(), cursor, 'COUNT', 500);
      cursor = next;
      const members = items.filter((_, i) => i % 2 === 0).filter(mentions);
      if (members.length) await this.redis.zrem(this.keys.bounceLog(), ...members);
    } while (cursor !== '0');
    const unparsed = await this.redis.lrange(this.keys.unparsedBounces(), 0, -1);
    for (const entry of new Set(unparsed.filter(mentions))) await this.redis.lrem(this.keys.unparsedBounces(), 0, entry);
  }
}
