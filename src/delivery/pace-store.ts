/** Owner of the pacing keys (`pace:*`): each provider group's pace, its counts, and the MX lookups of an edition. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';
import type { PaceState } from './pacing';

const updateScript = loadLuaScript(path.join(__dirname, 'lua'), 'pace-update-1.lua');

/** How long an edition's per-group counts are kept (status reads them; the edition's own counts outlive them). */
const editionCountsTtlSeconds = 30 * 24 * 3600;
/** MX answers are an edition's business: resolved once per domain per edition, gone after two days. */
const mxTtlSeconds = 2 * 24 * 3600;

/** Sent and deferred messages of one provider group. */
export interface GroupCounts {
  sent: number;
  deferred: number;
}

const numberFields = ['pace', 'changedAt', 'decreasedAt', 'deferringSince', 'pausedUntil', 'pausedAt', 'activeAt'] as const;

function toState(h: Record<string, string>): PaceState {
  const state: PaceState = { version: Number(h.version ?? 0) };
  for (const f of numberFields) if (h[f] !== undefined && h[f] !== '') state[f] = Number(h[f]);
  if (h.lastReply) state.lastReply = h.lastReply;
  if (h.pauseReason) state.pauseReason = h.pauseReason;
  return state;
}

function countsFrom(h: Record<string, string>): Map<string, GroupCounts> {
  const out = new Map<string, GroupCounts>();
  for (const [field, value] of Object.entries(h)) {
    const bar = field.lastIndexOf('|');
    const group = field.slice(0, bar);
    const kind = field.slice(bar + 1);
    if (kind !== 'sent' && kind !== 'deferred') continue;
    const counts = out.get(group) ?? { sent: 0, deferred: 0 };
    counts[kind] = Number(value);
    out.set(group, counts);
  }
  return out;
}

/** Provider groups' pace state, counts and MX answers, in Redis, shared by every worker of the install. */
export class PaceStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  async state(group: string): Promise<PaceState> {
    return toState(await this.redis.hgetall(this.keys.paceGroup(group)));
  }

  /** Every group's state in one round trip. */
  async states(groups: readonly string[]): Promise<Map<string, PaceState>> {
    const pipe = this.redis.pipeline();
    for (const g of groups) pipe.hgetall(this.keys.paceGroup(g));
    const results = (await pipe.exec()) ?? [];
    const out = new Map<string, PaceState>();
    groups.forEach((g, i) => out.set(g, toState((results[i]?.[1] ?? {}) as Record<string, string>)));
    return out;
  }

  /**
   * Writes `next` if the stored state is still at `from.version` (pace-update-1.lua); false when
   * another worker changed it first (read it again and decide again).
   */
  async update(group: string, from: PaceState, next: PaceState): Promise<boolean> {
    const set: Record<string, string> = {};
    const clear: string[] = [];
    for (const f of [...numberFields, 'lastReply', 'pauseReason'] as const) {
      const v = next[f];
      if (v === undefined) clear.push(f);
      else set[f] = typeof v === 'number' ? String(v) : v;
    }
    return (await updateScript.run(this.redis, [this.keys.paceGroup(group)], [String(from.version), JSON.stringify(set), JSON.stringify(clear)])) === 1;
  }

  /** Adds sent and deferred counts per edition and group, and to the cluster-wide totals, in one pipeline. */
  async addCounts(byEdition: Map<string, Map<string, GroupCounts>>): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const [editionId, groups] of byEdition) {
      const key = this.keys.paceEdition(editionId);
      for (const [group, c] of groups) {
        for (const kind of ['sent', 'deferred'] as const) {
          if (!c[kind]) continue;
          pipe.hincrby(key, `${group}|${kind}`, c[kind]);
          pipe.hincrby(this.keys.paceTotals(), `${group}|${kind}`, c[kind]);
        }
      }
      pipe.expire(key, editionCountsTtlSeconds);
    }
    await pipe.exec();
  }

  /** One edition's sent and deferred messages per provider group. */
  async editionCounts(editionId: string): Promise<Map<string, GroupCounts>> {
    return countsFrom(await this.redis.hgetall(this.keys.paceEdition(editionId)));
  }

  /** Every group's sent and deferred messages since the install began (Prometheus counters). */
  async totals(): Promise<Map<string, GroupCounts>> {
    return countsFrom(await this.redis.hgetall(this.keys.paceTotals()));
  }

  /** The groups MX lookups for this edition already found, for these domains (absent: not looked up yet). */
  async mxGroups(editionId: string, domains: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (domains.length === 0) return out;
    const values = await this.redis.hmget(this.keys.paceMx(editionId), ...domains);
    domains.forEach((d, i) => { if (values[i]) out.set(d, values[i] as string); });
    return out;
  }

  async saveMxGroups(editionId: string, groups: Map<string, string>): Promise<void> {
    if (groups.size === 0) return;
    const key = this.keys.paceMx(editionId);
    await this.redis.multi().hset(key, Object.fromEntries(groups)).expire(key, mxTtlSeconds).exec();
  }
}
