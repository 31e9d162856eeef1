/** Owner of the story-click keys: aggregate counts per edition and story, the burst rule's short memory, per-newsletter totals. */
import crypto from 'node:crypto';
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';

const recordScript = loadLuaScript(path.join(__dirname, 'lua'), 'record-click-3.lua');

/** A client's memory for the burst rule is dropped this long after its first click, whatever happens. */
export const CLIENT_MEMORY_MS = 60_000;

export type ClickKind = 'human' | 'automated';

export interface StoryClicks {
  human: number;
  automated: number;
}

export interface RecordedClick {
  /** false: the same client followed the same story within the minute; not counted again. */
  counted: boolean;
  kind: ClickKind;
  /** Earlier clicks of this client moved from human to automated (a burst was recognised). */
  reclassified: number;
}

/**
 * Model (docs/editorial.md): `clicks:{<edition>}` HASH `<story>|h`/`<story>|a`, the only thing
 * kept by default, with no reader in it; `clicks:{<edition>}:client:<hash>` the burst rule's
 * memory of one client (a keyed hash of IP and user agent), which expires a minute after its
 * first click; `clicks:{<edition>}:readers` only for a newsletter that opted in to per-reader
 * records; `clicks:totals` per newsletter for Prometheus (counters that only grow). The counts live as long as the edition's
 * own counts (kept); the per-reader records go with the edition's other reader data, after the
 * retention (ops/lifecycle.ts calls `forgetReaders`).
 */
export class ClickStore {
  private readonly clientKey: Buffer;

  constructor(private readonly redis: Redis, private readonly keys: Keys, secret: string) {
    this.clientKey = crypto.createHmac('sha256', secret).update('daybreak:click-client:v1').digest();
  }

  /** A keyed hash of the client: the same IP and user agent give the same value, which cannot be turned back into either. */
  clientHash(ip: string, userAgent: string | undefined): string {
    return crypto.createHmac('sha256', this.clientKey).update(`${ip}\n${userAgent ?? ''}`).digest('base64url').slice(0, 16);
  }

  async record(input: { editionId: string; newsletterId: string; story: string; client: string; automated: boolean; now: Date; burst: { windowMs: number; threshold: number } }): Promise<RecordedClick> {
    const reply = (await recordScript.run(
      this.redis,
      [this.keys.clicks(input.editionId), this.keys.clickClient(input.editionId, input.client), this.keys.clickTotals()],
      [input.now.getTime(), input.story, input.automated ? 'a' : 'h', input.burst.windowMs, input.burst.threshold, CLIENT_MEMORY_MS, input.newsletterId],
    )) as [string, string, number?];
    return { counted: reply[0] === 'counted', kind: reply[1] === 'a' ? 'automated' : 'human', reclassified: Number(reply[2] ?? 0) };
  }

  /** Clicks per story key of one edition. */
  async counts(editionId: string): Promise<Map<string, StoryClicks>> {
    const flat = await this.redis.hgetall(this.keys.clicks(editionId));
    const out = new Map<string, StoryClicks>();
    for (const [field, value] of Object.entries(flat)) {
      const bar = field.lastIndexOf('|');
      const story = field.slice(0, bar);
      const entry = out.get(story) ?? { human: 0, automated: 0 };
      if (field.endsWith('|h')) entry.human += Number(value);
      else entry.automated += Number(value);
      out.set(story, entry);
    }
    return out;
  }

  /** Clicks per newsletter since the install began, all processes: `<newsletter>|n` every click, `|a` the automated ones (only ever increase). */
  async totals(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.clickTotals());
  }

  /** Adds a story to a reader's record (a newsletter's per-reader opt-in, with that reader's consent). */
  async recordReader(editionId: string, subscriberId: string, story: string): Promise<void> {
    const key = this.keys.clickReaders(editionId);
    const current = (await this.redis.hget(key, subscriberId)) ?? '';
    if (current.split(',').includes(story)) return;
    await this.redis.hset(key, subscriberId, current ? `${current},${story}` : story);
  }

  /** One reader's clicked stories in an edition (per-reader opt-in only). */
  async readerStories(editionId: string, subscriberId: string): Promise<string[]> {
    return ((await this.redis.hget(this.keys.clickReaders(editionId), subscriberId)) ?? '').split(',').filter(Boolean);
  }

  /** How many readers have a per-reader record in the edition. */
  async readerCount(editionId: string): Promise<number> {
    return this.redis.hlen(this.keys.clickReaders(editionId));
  }

  /** Erasure's part: the reader's per-reader records in these editions. */
  async forgetReader(editionIds: string[], subscriberId: string): Promise<void> {
    if (editionIds.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const id of editionIds) pipe.hdel(this.keys.clickReaders(id), subscriberId);
    await pipe.exec();
  }

  /** After the retention: the edition's per-reader records go; its per-story counts, which name nobody, stay. */
  async forgetReaders(editionId: string): Promise<void> {
    await this.redis.unlink(this.keys.clickReaders(editionId));
  }
}
