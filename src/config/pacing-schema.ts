/** The configuration of pacing per mailbox provider (zod): the provider table, each group's limits, how pace adapts. */
import { z } from 'zod';

/**
 * Readers are grouped by their mailbox provider, each group paced on its own (docs/delivery.md).
 * The table below is the maintained default; a config adds domains, brands or MX hosts to a group
 * (they are added to the defaults, never replace them), changes a group's limits, or names a new
 * group. Every address no group claims is in `other`, which is not paced unless its limits say so.
 */

export interface ProviderGroupDefaults {
  /** Exact domains: `gmail.com`. */
  domains: string[];
  /** A label matched with any country suffix: `hotmail` is hotmail.com, hotmail.co.uk, hotmail.fr... */
  brands: string[];
  /** MX host suffixes (with `mxLookup`): a company domain whose MX is `aspmx.l.google.com` is Google's. */
  mxHosts: string[];
  /** Messages per second the group gets at most, across every worker and newsletter. */
  perSecond: number;
  /** Messages in flight to the group at most, across every worker and newsletter. */
  connections: number;
  /**
   * After the group has had nothing to send for `pacing.idleMinutes`, it starts again at this pace
   * and climbs to `perSecond` at the recovery rate, instead of bursting at the top of the hour
   * (Yahoo's guidance to bulk senders). Absent: it starts at full pace.
   */
  rampFromPerSecond?: number;
}

/** The maintained table. Limits are deliberately modest: raise them as the sending IP earns reputation. */
export const defaultProviderGroups: Record<string, ProviderGroupDefaults> = {
  google: { domains: ['gmail.com', 'googlemail.com'], brands: [], mxHosts: ['google.com', 'googlemail.com'], perSecond: 300, connections: 50 },
  microsoft: { domains: ['msn.com', 'passport.com'], brands: ['outlook', 'hotmail', 'live', 'windowslive'], mxHosts: ['protection.outlook.com', 'olc.protection.outlook.com', 'hotmail.com'], perSecond: 200, connections: 30 },
  yahoo: { domains: ['ymail.com', 'rocketmail.com', 'aim.com'], brands: ['yahoo', 'aol'], mxHosts: ['yahoodns.net', 'yahoo.com', 'aol.com'], perSecond: 100, connections: 20, rampFromPerSecond: 20 },
  apple: { domains: ['icloud.com', 'me.com', 'mac.com'], brands: [], mxHosts: ['icloud.com', 'apple.com'], perSecond: 100, connections: 20 },
};

/** The group every address no other group claims. */
export const otherGroup = 'other';

const hostName = z.string().min(3).max(253).regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'a domain name like example.com').transform((d) => d.toLowerCase());
const brandLabel = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i, 'one label, like hotmail').transform((d) => d.toLowerCase());
const groupId = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'lowercase letters, digits and dashes, starting with a letter');

const providerGroupSchema = z.object({
  domains: z.array(hostName).max(10_000).optional(),
  brands: z.array(brandLabel).max(100).optional(),
  mxHosts: z.array(hostName).max(100).optional(),
  perSecond: z.number().positive().max(1_000_000).optional(),
  connections: z.number().int().min(1).max(100_000).optional(),
  /** 0 turns a default ramp off. */
  rampFromPerSecond: z.number().min(0).max(1_000_000).optional(),
}).strict();

const limitsSchema = z.object({
  perSecond: z.number().positive().max(1_000_000).optional(),
  connections: z.number().int().min(1).max(100_000).optional(),
}).strict();



/** A provider group as the pacing reads it: the defaults and the config's additions merged. */
export interface ProviderGroup extends ProviderGroupDefaults {
  id: string;
}

export const pacingSchema = z.object({
  /** Off: every reader of a newsletter goes through its one send queue, as before pacing. */
  enabled: z.boolean().default(true),
  /**
   * Also group a domain by its MX host (a company on Google Workspace is paced as Google): resolved
   * once per domain per edition, cached. Off by default: it needs DNS.
   */
  mxLookup: z.boolean().default(false),
  mxTimeoutMs: z.number().int().min(100).max(30_000).default(3000),
  /** Changes to the default groups (lists are added to theirs), and new groups (perSecond and connections required). */
  providers: z.record(groupId, providerGroupSchema).default({}),
  /** Limits for every address no group claims; unset: not paced. */
  other: limitsSchema.default({}),
  /** A deferring group's pace never drops below this (messages per second). */
  minPerSecond: z.number().positive().max(1000).default(1),
  /** After deferrals stop, how long a group takes to climb from minPerSecond back to its full pace (additive increase). */
  recoverSeconds: z.number().int().min(1).max(86_400).default(120),
  /** Deferrals within this long of a halving do not halve again (they answer sends made at the old pace). */
  deferralCooldownMs: z.number().int().min(0).max(600_000).default(2000),
  /** A group with a ramp (rampFromPerSecond) that had nothing to send this long starts again from its ramp pace. */
  idleMinutes: z.number().int().min(1).max(24 * 60).default(15),
  /** A group still deferring when an edition's send window closes is paused this long (nothing is sent to it). */
  pauseMinutes: z.number().int().min(1).max(24 * 60).default(60),
}).strict().superRefine((p, ctx) => {
  if (otherGroup in p.providers) {
    ctx.addIssue({ code: 'custom', path: ['providers', otherGroup], message: `"${otherGroup}" is every address no group claims: set its limits under pacing.other` });
  }
  for (const [id, own] of Object.entries(p.providers)) {
    if (!defaultProviderGroups[id] && (own.perSecond === undefined || own.connections === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['providers', id], message: 'a new provider group needs perSecond and connections (e.g. "perSecond": 50, "connections": 10)' });
    }
  }
  // A domain claimed by two groups would be paced by whichever came first: refuse it instead.
  const owner = new Map<string, string>();
  for (const g of mergeGroups(p.providers)) {
    for (const d of g.domains) {
      const other = owner.get(d);
      if (other && other !== g.id) ctx.addIssue({ code: 'custom', path: ['providers', g.id, 'domains'], message: `${d} is already in the ${other} group` });
      owner.set(d, g.id);
    }
  }
});

type ProviderOverrides = Record<string, z.infer<typeof providerGroupSchema>>;

function mergeGroups(providers: ProviderOverrides): ProviderGroup[] {
  const union = (a: string[] = [], b: string[] = []) => [...new Set([...a, ...b])];
  const ids = new Set([...Object.keys(defaultProviderGroups), ...Object.keys(providers)].filter((id) => id !== otherGroup));
  const groups: ProviderGroup[] = [];
  for (const id of ids) {
    const base = defaultProviderGroups[id];
    const own = providers[id] ?? {};
    const perSecond = own.perSecond ?? base?.perSecond;
    const connections = own.connections ?? base?.connections;
    if (perSecond === undefined || connections === undefined) continue;
    const rampFrom = own.rampFromPerSecond ?? base?.rampFromPerSecond;
    groups.push({
      id,
      domains: union(base?.domains, own.domains),
      brands: union(base?.brands, own.brands),
      mxHosts: union(base?.mxHosts, own.mxHosts),
      perSecond,
      connections,
      // A ramp that starts at or above the full pace is no ramp.
      ...(rampFrom && rampFrom < perSecond ? { rampFromPerSecond: rampFrom } : {}),
    });
  }
  return groups;
}

const merged = new WeakMap<object, ProviderGroup[]>();

/** The named provider groups: the maintained table with the config's additions and limits (computed once per config). */
export function providerGroups(pacing: { providers: ProviderOverrides }): ProviderGroup[] {
  let groups = merged.get(pacing);
  if (!groups) {
    groups = mergeGroups(pacing.providers);
    merged.set(pacing, groups);
  }
  return groups;
}

export type PacingConfig = z.infer<typeof pacingSchema>;
