/** The end of what Daybreak keeps: editions compacted after their settle window, per-reader data dropped after the retention, old article ids and bounce log entries trimmed. */
import type { RetentionConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import { DaybreakError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { BounceStore } from '../bounces/bounce-store';
import type { ClickStore } from './click-store';
import type { CompactionResult, EditionLifecycle, EditionStore } from '../delivery/edition-store';
import { getEditionOrThrow } from './status';

export interface LifecycleDeps {
  editions: Pick<EditionStore, 'get' | 'list' | 'lifecyclePages' | 'compactLedger' | 'dropReaderData' | 'trimSentArticles'>;
  bounces: Pick<BounceStore, 'trimLog'>;
  clicks: Pick<ClickStore, 'forgetReaders'>;
  clock: Clock;
  logger: Logger;
  config: { retention: RetentionConfig; bounces: { logRetentionDays: number }; newsletters: ReadonlyArray<{ id: string }> };
}

const dayMs = 86_400_000;

/** Editions whose ledger can end: the others never had one (skipped, held, failed) or still use it. */
const settledStates = new Set(['done', 'cancelled']);

export type LifecycleAction =
  | { editionId: string; action: 'compacted'; result: CompactionResult }
  | { editionId: string; action: 'readers-dropped'; finishedDaysAgo: number };

export interface LifecycleReport {
  actions: LifecycleAction[];
  /** Finished editions still inside their settle window (compacted on a later run). */
  settling: number;
  /** Compacted editions whose per-reader data is kept until the retention. */
  retained: number;
  ms: number;
}

export interface LifecycleOptions {
  /** Compact editions finished at least this many days ago instead of after retention.settleDays. */
  olderThanDays?: number;
  /** Only this edition: refused (with what to do) when it cannot be compacted yet. */
  editionId?: string;
  /** Each action as it is done (the CLI prints them). */
  onAction?: (action: LifecycleAction) => void;
  /** Passed to the compaction: ledger entries read per page, and a hook run between pages (tests crash it there). */
  pageSize?: number;
  afterPage?: (moved: number) => Promise<void> | void;
}

/** A named edition that cannot be compacted now, with what to do instead. */
export class LifecycleError extends DaybreakError {}

/** What is due for one edition: compaction, then (much later) its per-reader data dropped. */
async function tidyEdition(deps: LifecycleDeps, edition: EditionLifecycle, now: Date, settleDays: number, report: LifecycleReport, options: LifecycleOptions): Promise<void> {
  if (!settledStates.has(edition.state) || !edition.finishedAt) return;
  const finishedDaysAgo = (now.getTime() - edition.finishedAt.getTime()) / dayMs;
  if (!edition.compactedAt) {
    if (finishedDaysAgo < settleDays) {
      report.settling += 1;
      return;
    }
    const result = await deps.editions.compactLedger(edition.id, now, { pageSize: options.pageSize, afterPage: options.afterPage });
    deps.logger.info({ editionId: edition.id, sent: result.sentBits, kept: result.kept, bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter, ms: Math.round(result.ms) }, result.compacted ? 'ledger compacted' : 'ledger was compacted already');
    if (result.compacted) {
      const action: LifecycleAction = { editionId: edition.id, action: 'compacted', result };
      report.actions.push(action);
      options.onAction?.(action);
    }
  }
  if (edition.readersDroppedAt) return;
  if (finishedDaysAgo < deps.config.retention.readerDataDays) {
    report.retained += 1;
    return;
  }
  const days = Math.floor(finishedDaysAgo);
  // Clicks first: a crash between the two leaves the edition unmarked, so the next run does both again.
  await deps.clicks.forgetReaders(edition.id);
  if (await deps.editions.dropReaderData(edition.id, now, { finishedDaysAgo: days, retentionDays: deps.config.retention.readerDataDays })) {
    deps.logger.info({ editionId: edition.id, finishedDaysAgo: days }, 'per-reader data dropped after the retention');
    const action: LifecycleAction = { editionId: edition.id, action: 'readers-dropped', finishedDaysAgo: days };
    report.actions.push(action);
    options.onAction?.(action);
  }
}

/** Why a named edition cannot be compacted now, or undefined when it can (or already is). */
function refusal(edition: EditionLifecycle, now: Date, settleDays: number): string | undefined {
  if (!settledStates.has(edition.state)) {
    return `Edition ${edition.id} is ${edition.state}; only a done or cancelled edition's ledger can be compacted${edition.state === 'sending' || edition.state === 'paused' ? ' (it is still in use)' : ' (it never sent anything)'}.`;
  }
  if (!edition.finishedAt) return `Edition ${edition.id} has no finish time; it cannot be compacted.`;
  const days = (now.getTime() - edition.finishedAt.getTime()) / dayMs;
  if (!edition.compactedAt && days < settleDays) {
    return `Edition ${edition.id} finished ${days.toFixed(1)} day(s) ago, inside its ${settleDays}-day settle window (late bounces, complaints, resends all still work after compaction): \`--older-than 0\` compacts it now.`;
  }
  return undefined;
}

/**
 * Runs what is due: every finished edition past its settle window is compacted, and past the
 * retention loses its per-reader data; the newsletters' sent-article memory and the bounce log
 * are trimmed to their retention. Safe to run at any time, twice, or in two schedulers at once.
 */
export async function runLifecycle(deps: LifecycleDeps, options: LifecycleOptions = {}): Promise<LifecycleReport> {
  const started = performance.now();
  const now = deps.clock.now();
  const settleDays = options.olderThanDays ?? deps.config.retention.settleDays;
  const report: LifecycleReport = { actions: [], settling: 0, retained: 0, ms: 0 };
  if (options.editionId) {
    const edition = await getEditionOrThrow(deps, options.editionId);
    const why = refusal(edition, now, settleDays);
    if (why) throw new LifecycleError(settledStates.has(edition.state) ? 'refused' : 'conflict', why, { context: { edition: edition.id } });
    await tidyEdition(deps, edition, now, settleDays, report, options);
  } else {
    for await (const page of deps.editions.lifecyclePages(now)) {
      for (const edition of page) await tidyEdition(deps, edition, now, settleDays, report, options);
    }
    for (const newsletter of deps.config.newsletters) await deps.editions.trimSentArticles(newsletter.id, now);
    await deps.bounces.trimLog(now, deps.config.bounces.logRetentionDays);
  }
  report.ms = performance.now() - started;
  return report;
}
