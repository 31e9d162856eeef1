/** Owner of the suppression list: addresses that get no mail, kept by a keyed hash so erasure leaves no address behind. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { emailHash } from '../mail/tokens';
import { normaliseEmail } from './email';

export interface Suppression {
  reason: string;
  source: string;
  at: string;
  evidence?: Record<string, unknown>;
}

export class SuppressionList {
  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly secret: string) {}

  /** The keyed hash an address is suppressed by (and the subscriber record keeps). */
  hashOf(email: string): string {
    return emailHash(this.secret, normaliseEmail(email));
  }

  async suppress(email: string, suppression: Suppression): Promise<void> {
    await this.redis.hset(this.keys.suppressions(), this.hashOf(email), JSON.stringify(suppression));
  }

  async unsuppress(email: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.suppressions(), this.hashOf(email))) > 0;
  }

  async suppression(email: string): Promise<Suppression | undefined> {
    const raw = await this.redis.hget(this.keys.suppressions(), this.hashOf(email));
    return raw ? (JSON.parse(raw) as Suppression) : undefined;
  }

  async isSuppressed(email: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.suppressions(), this.hashOf(email))) === 1;
  }

  /**
   * Erasure's part: the address stays suppressed by its keyed hash alone. Any earlier entry is
   * replaced, since its evidence may hold personal data; its reason is kept in words.
   */
  async suppressErased(email: string, at: Date, source: string): Promise<void> {
    const previous = await this.suppression(email);
    await this.suppress(email, { reason: previous ? `erased (was suppressed: ${previous.reason})` : 'erased', source, at: at.toISOString() });
  }
}
