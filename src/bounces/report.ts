/** What `daybreak bounces` reports: the bounce log over a period (and one edition's own counts). */
import type { EditionStore } from '../delivery/edition-store';
import type { BounceStore } from './bounce-store';
import type { BounceEventKind, BounceLogEntry } from './events';

export interface BounceReportDeps {
  bounces: Pick<BounceStore, 'logSince' | 'countUnparsed'>;
  editions: Pick<EditionStore, 'get'>;
}

export interface BounceActivity {
  since: Date;
  editionId?: string;
  counts: Record<BounceEventKind, number>;
  /** Distinct addresses per kind. */
  addresses: Record<BounceEventKind, number>;
  /** Addresses suppressed by the events in the report. */
  suppressed: number;
  /** The edition's own counters (each reader once), when the report is for one edition. */
  edition?: { sent: number; failed: number; bounced: number; bouncedHard: number; blocked: number; complaints: number; state: string; reason?: string };
  entries: BounceLogEntry[];
  unparsed: number;
}

const kinds: BounceEventKind[] = ['hard', 'soft', 'complaint', 'delayed', 'unsubscribe'];

/** Reads the bounce log (newest first) for a period and, optionally, one edition. */
export async function bounceReport(deps: BounceReportDeps, options: { since: Date; editionId?: string }): Promise<BounceActivity> {
  const entries = (await deps.bounces.logSince(options.since)).filter((e) => !options.editionId || e.editionId === options.editionId);
  const counts = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<BounceEventKind, number>;
  const sets = Object.fromEntries(kinds.map((k) => [k, new Set<string>()])) as Record<BounceEventKind, Set<string>>;
  let suppressed = 0;
  for (const e of entries) {
    counts[e.kind] += 1;
    sets[e.kind].add(e.email);
    // Structured since the redesign; an older entry only has its words.
    if (e.actions ? e.actions.some((a) => a.type === 'suppressed') : /(?:^|, )suppressed(?:,|$)/.test(e.action)) suppressed += 1;
  }
  let edition: BounceActivity['edition'];
  const e = options.editionId ? await deps.editions.get(options.editionId) : undefined;
  if (e) edition = { state: e.state, reason: e.reason, sent: e.sent, failed: e.failed, bounced: e.bounced, bouncedHard: e.bouncedHard, blocked: e.blocked, complaints: e.complaints };
  return {
    since: options.since,
    editionId: options.editionId,
    counts,
    addresses: Object.fromEntries(kinds.map((k) => [k, sets[k].size])) as Record<BounceEventKind, number>,
    suppressed,
    edition,
    entries,
    unparsed: await deps.bounces.countUnparsed(),
  };
}
