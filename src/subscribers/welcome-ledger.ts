/** Owner of the welcome emails' keys: which readers are owed one (the retry sweep's index) and who is sending it now. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';

/**
 * Whether a reader is owed a welcome is recorded on their record, atomically with the
 * confirmation (records' `welcomeDue` / `welcomeSent` fields, see store.ts confirmSignup). This
 * owner keeps what only helps to find and send it: `welcome:due`, a ZSET of readers by when one
 * fell due (written before the confirmation, so a crash leaves at worst an entry the sweep drops),
 * and `welcome:lease:<id>`, which one process holds while it sends.
 */
export class WelcomeLedger {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** A welcome is about to fall due for the reader (confirmSignup calls it before the confirmation). */
  async expect(subscriberId: string, at: Date): Promise<void> {
    await this.redis.zadd(this.keys.welcomeDue(), at.getTime(), subscriberId);
  }

  /** Readers whose welcome fell due at or before `before`, oldest first. */
  async dueBefore(before: Date, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.welcomeDue(), '-inf', before.getTime(), 'LIMIT', 0, limit);
  }

  /** Takes the right to send the reader's welcome for `ms`; false when another process holds it. */
  async lease(subscriberId: string, owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.welcomeLease(subscriberId), owner, 'PX', ms, 'NX')) === 'OK';
  }

  async release(subscriberId: string): Promise<void> {
    await this.redis.del(this.keys.welcomeLease(subscriberId));
  }

  /** Nothing more is owed to the reader: off the sweep's index. */
  async done(subscriberId: string): Promise<void> {
    await this.redis.zrem(this.keys.welcomeDue(), subscriberId);
  }

  /** Erasure's part. */
  async forget(subscriberId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.welcomeDue(), subscriberId).del(this.keys.welcomeLease(subscriberId)).exec();
  }
}
