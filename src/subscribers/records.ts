/** Owner of subscriber records and the email index; every change to a reader goes through one atomic script. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';
import type { ConsentRecord } from './consent';
import { normaliseEmail } from './email';
import { membershipKeyParts, zoneIndexSpec, type ZonedNewsletter } from './membership';

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
  /**
   * The reader's IANA time zone, chosen on the sign-up or preferences page or imported; unset:
   * the newsletter's. A newsletter delivered in readers' zones reaches them at its time in this zone.
   */
  timezone?: string;
}

export interface SubscriberEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

/** One change to a reader: fields (status and newsletters among them), a history entry, a consent entry. */
export interface ReaderChange {
  fields?: Record<string, string | number | undefined>;
  /** Fields to remove (a name cleared). */
  clear?: string[];
  history?: { at: Date; event: string; detail?: Record<string, unknown> };
  consent?: ConsentRecord;
}

const luaDir = path.join(__dirname, 'lua');
const changeScript = loadLuaScript(luaDir, 'change-4.lua');

function parseList(value: string | undefined): string[] {
  return value ? value.split(',').filter(Boolean) : [];
}

function historyEntry(at: Date, event: string, detail?: Record<string, unknown>): string {
  return JSON.stringify({ at: at.toISOString(), event, ...(detail ? { detail } : {}) } satisfies SubscriberEvent);
}

/**
 * Model: `sub:<id>` HASH; `sub:by-email` HASH normalised address -> id; `sub:all` ZSET of ids;
 * `sub:<id>:history` LIST of JSON. The newsletter sets follow from each change by the membership
 * rule (lua/includes/membership.lua).
 */
export class SubscriberRecords {
  /**
   * `zoned`: the newsletters delivered in readers' own zones (config), whose zone index every
   * change keeps (membership's rule, lua/includes/zones.lua).
   */
  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly hashOf: (email: string) => string, private readonly zoned: () => readonly ZonedNewsletter[] = () => []) {}

  /** The zone index spec for the scripts that change readers. */
  zoneSpec(): string {
    return zoneIndexSpec(this.keys, this.zoned());
  }

  async findIdByEmail(email: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.subscriberByEmail(), normaliseEmail(email))) ?? undefined;
  }

  async get(id: string): Promise<Subscriber | undefined> {
    return this.fromHash(id, await this.redis.hgetall(this.keys.subscriber(id)));
  }

  async findByEmail(email: string): Promise<Subscriber | undefined> {
    const id = await this.findIdByEmail(email);
    return id ? this.get(id) : undefined;
  }

  private fromHash(id: string, h: Record<string, string>): Subscriber | undefined {
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
      timezone: h.timezone || undefined,
    };
  }

  /** Applies one change atomically (lua/change-4.lua); false when the reader does not exist. */
  async change(id: string, change: ReaderChange, options: { create?: boolean } = {}): Promise<boolean> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(change.fields ?? {})) if (v !== undefined) fields[k] = String(v);
    const reply = await changeScript.run(
      this.redis,
      [this.keys.subscriber(id), this.keys.subscriberHistory(id), this.keys.subscriberConsent(id), this.keys.newsletterCounters()],
      [
        id, ...membershipKeyParts(this.keys), options.create ? '1' : '0',
        Object.keys(fields).length ? JSON.stringify(fields) : '',
        change.clear?.length ? JSON.stringify(change.clear) : '',
        change.history ? historyEntry(change.history.at, change.history.event, change.history.detail) : '',
        change.consent ? JSON.stringify(change.consent) : '',
        this.zoneSpec(),
      ],
    );
    return reply === 1;
  }

  /** Creates a pending record for a new address; returns the existing id otherwise. HSETNX settles a race: the first id wins. */
  async createPending(email: string, input: { name?: string; timezone?: string; newsletters: string[]; source: string; now: Date; history: boolean }): Promise<{ id: string; created: boolean }> {
    const existing = await this.redis.hget(this.keys.subscriberByEmail(), email);
    if (existing) return { id: existing, created: false };
    const fresh = String(await this.redis.incr(this.keys.subscriberSeq()));
    if (!(await this.redis.hsetnx(this.keys.subscriberByEmail(), email, fresh))) {
      return { id: (await this.redis.hget(this.keys.subscriberByEmail(), email)) as string, created: false };
    }
    const now = input.now.getTime();
    await this.redis.zadd(this.keys.allSubscribers(), Number(fresh), fresh);
    await this.change(fresh, {
      fields: { id: fresh, email, emailHash: this.hashOf(email), status: 'pending', newsletters: input.newsletters.join(','), createdAt: now, updatedAt: now, source: input.source, name: input.name || undefined, timezone: input.timezone || undefined },
      history: input.history ? { at: input.now, event: 'created', detail: { status: 'pending', newsletters: input.newsletters, source: input.source } } : undefined,
    }, { create: true });
    return { id: fresh, created: true };
  }

  /**
   * The welcome email's two fields: `welcomeDue` (`<nonce>|<kind>|<newsletters>`, written by the
   * confirmation's own change, so owing a welcome and being confirmed are one atomic fact) and
   * `welcomeSent` (the nonce of the last one sent). A welcome is owed while they differ.
   */
  async welcomeFields(id: string): Promise<{ due?: string; sent?: string }> {
    const [due, sent] = await this.redis.hmget(this.keys.subscriber(id), 'welcomeDue', 'welcomeSent');
    return { due: due || undefined, sent: sent || undefined };
  }

  /** Adds an entry to the reader's history (a bounce, a complaint) for `subscribers show`. */
  async recordHistory(id: string, at: Date, event: string, detail?: Record<string, unknown>): Promise<void> {
    await this.redis.rpush(this.keys.subscriberHistory(id), historyEntry(at, event, detail));
  }

  async history(id: string): Promise<SubscriberEvent[]> {
    return (await this.redis.lrange(this.keys.subscriberHistory(id), 0, -1)).map((line) => JSON.parse(line) as SubscriberEvent);
  }

  /**
   * Pages through subscribers in id order: a newsletter's confirmed members, or everyone. Memory
   * stays flat whatever the list's size.
   */
  async *scan(options: { newsletterId?: string; pageSize?: number } = {}): AsyncGenerator<Subscriber[]> {
    const key = options.newsletterId ? this.keys.members(options.newsletterId) : this.keys.allSubscribers();
    const pageSize = options.pageSize ?? 500;
    let after = 0;
    for (;;) {
      const ids = await this.redis.zrangebyscore(key, `(${after}`, '+inf', 'LIMIT', 0, pageSize);
      if (ids.length === 0) return;
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(this.keys.subscriber(id));
      const results = (await pipe.exec()) ?? [];
      const page: Subscriber[] = [];
      results.forEach(([error, hash], i) => {
        if (error) throw error;
        const sub = this.fromHash(ids[i] as string, hash as Record<string, string>);
        if (sub) page.push(sub);
      });
      if (page.length) yield page;
      after = Number(ids[ids.length - 1]);
    }
  }

  /** Erasure's part: the record, its history and its index entry. */
  async forget(id: string, normalisedEmail: string): Promise<void> {
    await this.redis.multi()
      .zrem(this.keys.allSubscribers(), id)
      .hdel(this.keys.subscriberByEmail(), normalisedEmail)
      .del(this.keys.subscriber(id), this.keys.subscriberHistory(id))
      .exec();
  }
}
