import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { normaliseEmail } from './email';
import { emailHash } from './tokens';

export type SubscriberStatus = 'pending' | 'confirmed' | 'unsubscribed';

export interface Subscriber {
  id: string;
  email: string;
  name?: string;
  status: SubscriberStatus;
  newsletters: string[];
  emailHash: string;
  createdAt: Date;
  confirmedAt?: Date;
  updatedAt: Date;
  source?: string;
}

export interface SubscriberEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

export interface Suppression {
  reason: string;
  source: string;
  at: string;
  evidence?: Record<string, unknown>;
}

export class SubscriberError extends Error {
  constructor(message: string, readonly code: 'suppressed' | 'unsubscribed' | 'not-found' | 'unknown-newsletter') {
    super(message);
    this.name = 'SubscriberError';
  }
}

function parseList(value: string | undefined): string[] {
  return value ? value.split(',').filter(Boolean) : [];
}

/** Redis-backed subscriber records, per-newsletter member sets and the suppression list. */
export class SubscriberStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly secret: string) {}

  hashOf(email: string): string {
    return emailHash(this.secret, normaliseEmail(email));
  }

  async findIdByEmail(email: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.subscriberByEmail(), normaliseEmail(email))) ?? undefined;
  }

  async get(id: string): Promise<Subscriber | undefined> {
    const h = await this.redis.hgetall(this.keys.subscriber(id));
    if (!h.email) return undefined;
    return {
      id,
      email: h.email,
      name: h.name || undefined,
      status: h.status as SubscriberStatus,
      newsletters: parseList(h.newsletters),
      emailHash: h.emailHash ?? this.hashOf(h.email),
      createdAt: new Date(Number(h.createdAt)),
      confirmedAt: h.confirmedAt ? new Date(Number(h.confirmedAt)) : undefined,
      updatedAt: new Date(Number(h.updatedAt)),
      source: h.source || undefined,
    };
  }

  async findByEmail(email: string): Promise<Subscriber | undefined> {
    const id = await this.findIdByEmail(email);
    return id ? this.get(id) : undefined;
  }

  /**
   * Adds a subscriber, or adds newsletters to an existing one. `confirmed` puts them straight on
   * the lists (ops adding a known reader, a confirmed import); otherwise they stay pending until
   * they confirm. A suppressed address is refused, and so is an unsubscribed one unless
   * `resubscribe` says the reader asked again.
   */
  async add(input: { email: string; name?: string; newsletters: string[]; confirmed: boolean; source?: string; resubscribe?: boolean; now?: Date }): Promise<{ subscriber: Subscriber; created: boolean }> {
    const now = (input.now ?? new Date()).getTime();
    const email = normaliseEmail(input.email);
    if (await this.isSuppressed(email)) {
      throw new SubscriberError(`${email} is on the suppression list; remove it there first if the reader really wants mail again`, 'suppressed');
    }
    let id = await this.redis.hget(this.keys.subscriberByEmail(), email);
    let created = false;
    if (!id) {
      const fresh = String(await this.redis.incr(this.keys.subscriberSeq()));
      // HSETNX settles a race between two adds of the same address: the first id wins.
      if (await this.redis.hsetnx(this.keys.subscriberByEmail(), email, fresh)) {
        id = fresh;
        created = true;
        await this.redis.hset(this.keys.subscriber(id), {
          id, email, emailHash: this.hashOf(email), status: 'pending', newsletters: '', createdAt: now, updatedAt: now, source: input.source ?? '',
        });
      } else {
        id = (await this.redis.hget(this.keys.subscriberByEmail(), email)) as string;
      }
    }
    const existing = (await this.get(id)) as Subscriber;
    if (!created && existing.status === 'unsubscribed' && !input.resubscribe) {
      throw new SubscriberError(`${email} unsubscribed on ${existing.updatedAt.toISOString()}; they must sign up again themselves`, 'unsubscribed');
    }
    const newsletters = [...new Set([...(existing.status === 'unsubscribed' ? [] : existing.newsletters), ...input.newsletters])];
    const status: SubscriberStatus = input.confirmed || existing.status === 'confirmed' ? 'confirmed' : 'pending';
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { newsletters: newsletters.join(','), status, updatedAt: now });
    if (input.name !== undefined && input.name !== '') tx.hset(this.keys.subscriber(id), 'name', input.name);
    if (status === 'confirmed') {
      if (!existing.confirmedAt) tx.hset(this.keys.subscriber(id), 'confirmedAt', now);
      for (const nl of newsletters) tx.zadd(this.keys.members(nl), Number(id), id);
    }
    tx.rpush(this.keys.subscriberHistory(id), JSON.stringify({ at: new Date(now).toISOString(), event: created ? 'created' : 'updated', detail: { status, newsletters, source: input.source } } satisfies SubscriberEvent));
    await tx.exec();
    return { subscriber: (await this.get(id)) as Subscriber, created };
  }

  /** Confirms a pending subscriber: they join each of their newsletters' member lists. */
  async confirm(id: string, now: Date = new Date()): Promise<Subscriber> {
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { status: 'confirmed', confirmedAt: now.getTime(), updatedAt: now.getTime() });
    for (const nl of sub.newsletters) tx.zadd(this.keys.members(nl), Number(id), id);
    tx.rpush(this.keys.subscriberHistory(id), JSON.stringify({ at: now.toISOString(), event: 'confirmed' }));
    await tx.exec();
    return (await this.get(id)) as Subscriber;
  }

  /** Leaves the given newsletters, or all of them; with none left the subscriber is unsubscribed. */
  async unsubscribe(id: string, options: { newsletters?: string[]; reason?: string; now?: Date } = {}): Promise<Subscriber> {
    const now = options.now ?? new Date();
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    const leaving = options.newsletters ?? sub.newsletters;
    const remaining = sub.newsletters.filter((n) => !leaving.includes(n));
    const tx = this.redis.multi();
    for (const nl of leaving) tx.zrem(this.keys.members(nl), id);
    tx.hset(this.keys.subscriber(id), { newsletters: remaining.join(','), updatedAt: now.getTime(), ...(remaining.length === 0 ? { status: 'unsubscribed' } : {}) });
    tx.rpush(this.keys.subscriberHistory(id), JSON.stringify({ at: now.toISOString(), event: 'unsubscribed', detail: { newsletters: leaving, reason: options.reason } }));
    await tx.exec();
    return (await this.get(id)) as Subscriber;
  }

  async history(id: string): Promise<SubscriberEvent[]> {
    return (await this.redis.lrange(this.keys.subscriberHistory(id), 0, -1)).map((line) => JSON.parse(line) as SubscriberEvent);
  }

  /** One page of a newsletter's confirmed members after `afterId`, in stable id order. */
  async pageMembers(newsletterId: string, afterId: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.members(newsletterId), `(${afterId}`, '+inf', 'LIMIT', 0, limit);
  }

  async countMembers(newsletterId: string): Promise<number> {
    return this.redis.zcard(this.keys.members(newsletterId));
  }

  async suppress(email: string, suppression: Omit<Suppression, 'at'> & { at?: string }): Promise<void> {
    const value: Suppression = { ...suppression, at: suppression.at ?? new Date().toISOString() };
    await this.redis.hset(this.keys.suppressions(), this.hashOf(email), JSON.stringify(value));
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
}
