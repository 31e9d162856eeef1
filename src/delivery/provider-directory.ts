/**
 * Which provider group each reader's domain is paced in: the provider table first, then (with
 * `pacing.mxLookup`) the domain's MX host, resolved once per domain per edition and cached.
 */
import { Resolver } from 'node:dns/promises';
import { providerGroups, type PacingConfig } from '../config/pacing-schema';
import type { Logger } from '../core/logger';
import type { PaceStore } from './pace-store';
import { otherGroup, ProviderTable } from './providers';

/** Resolves a domain's MX records; production uses node:dns, tests give a fake (no traffic leaves loopback). */
export interface MxResolver {
  resolveMx(domain: string): Promise<Array<{ exchange: string; priority: number }>>;
}

/** node:dns with a timeout and one retry: a slow DNS server only sends that domain's readers to `other`. */
export function systemMxResolver(timeoutMs: number): MxResolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  return { resolveMx: (domain) => resolver.resolveMx(domain) };
}

export interface ProviderDirectoryDeps {
  paceStore: Pick<PaceStore, 'mxGroups' | 'saveMxGroups'>;
  mxResolver: MxResolver;
  logger: Logger;
  config: { pacing: Pick<PacingConfig, 'enabled' | 'mxLookup' | 'providers'> };
}

/** Lookups in flight at once, per process. */
const lookupConcurrency = 16;
/** Domains remembered in memory per edition; Redis keeps every one for the edition. */
const maxRemembered = 100_000;
const editionsRemembered = 4;

export class ProviderDirectory {
  readonly table: ProviderTable;
  private readonly remembered = new Map<string, Map<string, string>>();
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly deps: ProviderDirectoryDeps) {
    this.table = new ProviderTable(providerGroups(deps.config.pacing));
  }

  /** The named groups readers can be paced in (none when pacing is off). */
  get groups(): readonly string[] {
    return this.deps.config.pacing.enabled ? this.table.groups : [];
  }

  private memory(editionId: string): Map<string, string> {
    let m = this.remembered.get(editionId);
    if (!m) {
      m = new Map();
      this.remembered.set(editionId, m);
      if (this.remembered.size > editionsRemembered) this.remembered.delete(this.remembered.keys().next().value as string);
    }
    return m;
  }

  /** Every domain's group for this edition's sends (`other` when no group claims it, or pacing is off). */
  async groupsOf(editionId: string, domains: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const { enabled, mxLookup } = this.deps.config.pacing;
    const unknownSet = new Set<string>();
    const memory = this.memory(editionId);
    for (const domain of domains) {
      if (out.has(domain) || unknownSet.has(domain)) continue;
      const group = enabled ? this.table.groupOfDomain(domain) ?? (mxLookup ? memory.get(domain) : otherGroup) : otherGroup;
      if (group) out.set(domain, group);
      else unknownSet.add(domain);
    }
    if (unknownSet.size === 0) return out;
    const unknown = [...unknownSet];
    // Another worker (or an earlier run of this fan-out) may have resolved them for this edition.
    const stored = await this.deps.paceStore.mxGroups(editionId, unknown);
    const toResolve = unknown.filter((d) => !stored.has(d));
    const resolved = new Map<string, string>();
    for (let i = 0; i < toResolve.length; i += lookupConcurrency) {
      const batch = toResolve.slice(i, i + lookupConcurrency);
      const groups = await Promise.all(batch.map((d) => this.lookup(d)));
      batch.forEach((d, k) => resolved.set(d, groups[k] as string));
    }
    await this.deps.paceStore.saveMxGroups(editionId, resolved);
    for (const [d, g] of [...stored, ...resolved]) {
      out.set(d, g);
      if (memory.size < maxRemembered) memory.set(d, g);
    }
    return out;
  }

  /** One domain's MX host, as a group: the most preferred exchange decides. */
  private lookup(domain: string): Promise<string> {
    let pending = this.inFlight.get(domain);
    if (!pending) {
      pending = this.deps.mxResolver.resolveMx(domain).then(
        (records) => {
          const best = [...records].sort((a, b) => a.priority - b.priority)[0];
          return (best && this.table.groupOfMxHost(best.exchange)) ?? otherGroup;
        },
        (error: unknown) => {
          this.deps.logger.debug({ domain, err: (error as Error).message }, 'MX lookup failed; paced as other');
          return otherGroup;
        },
      ).finally(() => this.inFlight.delete(domain));
      this.inFlight.set(domain, pending);
    }
    return pending;
  }
}
