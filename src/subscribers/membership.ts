/** Reads of newsletter membership: confirmed members (the fan-out pages through them), pending ones, counts, zones. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';

const clearBitsScript = loadLuaScript(path.join(__dirname, 'lua'), 'clear-bits-2.lua');
const migrateSetScript = loadLuaScript(path.join(__dirname, 'lua'), 'migrate-set-2.lua');
const reindexZonesScript = loadLuaScript(path.join(__dirname, 'lua'), 'reindex-zones-1.lua');

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

/** The ids whose bits are set in `bytes` (a bitmap read from byte `offset`), above `afterId`, at most `limit`. */
export function idsInBits(bytes: Uint8Array, offset: number, afterId: number, limit: number): string[] {
  const out: string[] = [];
  for (let b = 0; b < bytes.length && out.length < limit; b++) {
    const byte = bytes[b] as number;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8 && out.length < limit; bit++) {
      const id = (offset + b) * 8 + bit;
      if ((byte & (0x80 >>> bit)) !== 0 && id > afterId) out.push(String(id));
    }
  }
  return out;
}

/** A newsletter delivered in each reader's own zone, and its own zone (readers without one, or in it, are not indexed). */
export interface ZonedNewsletter {
  id: string;
  timezone: string;
}

/**
 * The zone index spec the membership scripts take (lua/includes/zones.lua): the key parts of the
 * zone sets and registries, and the newsletters delivered in readers' zones; '' when there are none.
 */
export function zoneIndexSpec(keys: Keys, zoned: readonly ZonedNewsletter[]): string {
  if (zoned.length === 0) return '';
  const marker = '\u0000';
  const [zPre, zMid, zSuf] = keys.zoneMembers(marker, marker).split(marker) as [string, string, string];
  return JSON.stringify({ keys: [zPre, zMid, zSuf, ...keyParts((nl) => keys.memberZones(nl))], zoned: zoned.map((n) => `${n.id}=${n.timezone}`).join(';') });
}

/** How many of a newsletter's members live in each zone other than its own (its waves), and the zone the index was built for. */
export interface MemberZones {
  builtFor?: string;
  zones: Map<string, number>;
}

/**
 * Member and pending sets are BITMAPS, bit = subscriber id (membership.lua): a million readers of
 * a newsletter take 125 KB instead of ~100 MB as a sorted set, and still page in stable id order.
 */
export class Membership {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** The zone index registry: the zones the newsletter's readers live in, other than its own. */
  async memberZones(newsletterId: string): Promise<MemberZones> {
    const h = await this.redis.hgetall(this.keys.memberZones(newsletterId));
    const zones = new Map<string, number>();
    for (const [zone, n] of Object.entries(h)) if (!zone.startsWith('@') && Number(n) > 0) zones.set(zone, Number(n));
    return { builtFor: h['@zone'], zones };
  }

  /**
   * One page of the newsletter's members living in `zone` (its zone index), after `afterId`, in id
   * order. A sorted set, not a bitmap like the member set: a zone's readers are usually few and
   * scattered over the ids, where a bitmap would cost an eighth of a byte per id however few.
   */
  async pageZoneMembers(newsletterId: string, zone: string, afterId: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.zoneMembers(newsletterId, zone), `(${afterId}`, '+inf', 'LIMIT', 0, limit);
  }

  /**
   * Builds the newsletter's zone index from its members (it starts delivering in readers' zones,
   * or its own zone changed): cleared, then rebuilt a page at a time; changes to readers meanwhile
   * keep it right (they apply the same rule). One process at a time; false when another is at it.
   */
  async reindexZones(newsletter: ZonedNewsletter, pageSize = 1000): Promise<boolean> {
    const lock = this.keys.memberZonesRebuild(newsletter.id);
    if ((await this.redis.set(lock, '1', 'PX', 10 * 60_000, 'NX')) !== 'OK') return false;
    try {
      const registry = this.keys.memberZones(newsletter.id);
      const old = await this.memberZones(newsletter.id);
      await this.redis.unlink(registry, ...[...old.zones.keys()].map((z) => this.keys.zoneMembers(newsletter.id, z)));
      const spec = zoneIndexSpec(this.keys, [newsletter]);
      for (let after = 0; ;) {
        const ids = await this.pageMembers(newsletter.id, after, pageSize);
        if (ids.length === 0) break;
        await reindexZonesScript.run(this.redis, [registry], [this.keys.subscriber(''), spec, ...ids]);
        after = Number(ids[ids.length - 1]);
        await this.redis.pexpire(lock, 10 * 60_000);
      }
      await this.redis.hset(registry, '@zone', newsletter.timezone);
      return true;
    } finally {
      await this.redis.del(lock);
    }
  }

  /**
   * One page of a newsletter's confirmed members after `afterId`, in stable id order: the bitmap
   * read from there in chunks (a page of a dense list is a few hundred bytes; a sparse list reads
   * larger chunks, at most 64 KB at a time).
   */
  async pageMembers(newsletterId: string, afterId: number, limit: number): Promise<string[]> {
    const key = this.keys.members(newsletterId);
    const out: string[] = [];
    let offset = Math.floor((afterId + 1) / 8);
    let chunk = Math.max(256, Math.ceil(limit / 8) * 2);
    while (out.length < limit) {
      const bytes = await this.redis.getrangeBuffer(key, offset, offset + chunk - 1);
      out.push(...idsInBits(bytes, offset, afterId, limit - out.length));
      if (bytes.length < chunk) break;
      offset += chunk;
      chunk = Math.min(64 * 1024, chunk * 4);
    }
    return out;
  }

  async countMembers(newsletterId: string): Promise<number> {
    return this.redis.bitcount(this.keys.members(newsletterId));
  }

  /** Confirmed and pending readers per newsletter, and how many have left it. */
  async counts(newsletterIds: string[]): Promise<Record<string, NewsletterCounts>> {
    const pipe = this.redis.pipeline();
    for (const nl of newsletterIds) {
      pipe.bitcount(this.keys.members(nl));
      pipe.bitcount(this.keys.pendingMembers(nl));
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

  /**
   * `daybreak migrate`: every member and pending set still kept as a sorted set (an earlier
   * Daybreak's form) becomes a bitmap: built beside it from pages of the set, then swapped in one
   * atomic step. Returns how many sets were converted; a rerun converts what is left.
   */
  async migrateLegacySets(): Promise<number> {
    let converted = 0;
    const patterns = [keyParts((nl) => this.keys.members(nl)), keyParts((nl) => this.keys.pendingMembers(nl))].map(([pre, suf]) => `${pre}*${suf}`);
    for (const pattern of patterns) {
      const found: string[] = [];
      for await (const keys of this.redis.scanStream({ match: pattern, type: 'zset', count: 1000 }) as AsyncIterable<string[]>) found.push(...keys);
      for (const key of found) {
        for (let attempt = 0; attempt < 3; attempt++) {
          const bits = `${key}:migrating`;
          await this.redis.del(bits);
          let count = 0;
          for (let after = 0; ;) {
            const ids = await this.redis.zrangebyscore(key, `(${after}`, '+inf', 'LIMIT', 0, 5000);
            if (ids.length === 0) break;
            const p = this.redis.pipeline();
            for (const id of ids) p.setbit(bits, Number(id), 1);
            await p.exec();
            count += ids.length;
            after = Number(ids[ids.length - 1]);
          }
          const reply = await migrateSetScript.run(this.redis, [key, bits], [count]);
          if (reply !== 'changed') {
            if (reply === 'migrated') converted += 1;
            break;
          }
        }
      }
    }
    return converted;
  }

  /** Erasure's part: the reader leaves every set, counted as nothing (an erased reader did not unsubscribe). */
  async forget(subscriberId: string, newsletterIds: Iterable<string>, zone?: string): Promise<void> {
    for (const nl of new Set(newsletterIds)) {
      await clearBitsScript.run(this.redis, [this.keys.members(nl), this.keys.pendingMembers(nl)], [subscriberId]);
      if (zone && (await this.redis.zrem(this.keys.zoneMembers(nl, zone), subscriberId)) === 1) await this.redis.hincrby(this.keys.memberZones(nl), zone, -1);
    }
  }
}
