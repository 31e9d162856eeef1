/** `daybreak migrate`: data written by an earlier Daybreak brought to today's stored forms, in place, resumably; each owner converts its own keys. */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from '../delivery/edition-store';
import type { SubscriberStore } from '../subscribers/store';

export interface MigrateDeps {
  subscribers: Pick<SubscriberStore, 'records' | 'membership'>;
  editions: Pick<EditionStore, 'migrateLegacySentArticles'>;
  clock: Clock;
  logger: Logger;
}

export interface MigrationProgress {
  step: 'readers' | 'newsletter sets' | 'sent articles';
  done: number;
  total: number;
}

export interface MigrationReport {
  readers: { migrated: number; already: number; missing: number; changed: number };
  /** Member and pending sets turned into bitmaps. */
  sets: number;
  /** Newsletters' sent-article sets turned into sets by time. */
  sentArticles: number;
  /** Everything is in today's form (false: readers kept changing under it; stop older processes and run it again). */
  finished: boolean;
  ms: number;
}

export interface MigrateOptions {
  pageSize?: number;
  onProgress?: (progress: MigrationProgress) => void;
  /** Runs after each page of readers (tests crash it there). */
  afterPage?: (done: number) => Promise<void> | void;
}

/**
 * Converts, in place: every reader (record, history, consent log: stored-form.ts), the member and
 * pending sets (sorted sets -> bitmaps) and the sent-article sets (-> by time); then removes the
 * legacy index that marks data to migrate. Idempotent (what is converted is left alone) and
 * resumable (a rerun after a crash finishes the rest); run it with Daybreak's processes stopped:
 * a reader an older process changes mid-way is read again, up to three passes.
 */
export async function migrate(deps: MigrateDeps, options: MigrateOptions = {}): Promise<MigrationReport> {
  const started = performance.now();
  const { records, membership } = deps.subscribers;
  const pageSize = options.pageSize ?? 500;
  const report: MigrationReport = { readers: { migrated: 0, already: 0, missing: 0, changed: 0 }, sets: 0, sentArticles: 0, finished: false, ms: 0 };
  const last = await records.lastId();
  let changed: string[] = [];
  for (let from = 1; from <= last; from += pageSize) {
    const ids = Array.from({ length: Math.min(pageSize, last - from + 1) }, (_, i) => String(from + i));
    const page = await records.migrateLegacy(ids);
    report.readers.migrated += page.migrated;
    report.readers.already += page.already;
    report.readers.missing += page.missing;
    changed.push(...page.changed);
    const done = from + ids.length - 1;
    options.onProgress?.({ step: 'readers', done, total: last });
    await options.afterPage?.(done);
  }
  for (let pass = 0; pass < 3 && changed.length; pass++) {
    const again = await records.migrateLegacy(changed);
    report.readers.migrated += again.migrated;
    report.readers.already += again.already;
    report.readers.missing += again.missing;
    changed = again.changed;
  }
  report.readers.changed = changed.length;
  options.onProgress?.({ step: 'newsletter sets', done: 0, total: 1 });
  report.sets = await membership.migrateLegacySets();
  options.onProgress?.({ step: 'sent articles', done: 0, total: 1 });
  report.sentArticles = await deps.editions.migrateLegacySentArticles(deps.clock.now());
  if (changed.length === 0) {
    await records.finishLegacyMigration();
    report.finished = true;
  } else {
    deps.logger.warn({ readers: changed.slice(0, 20) }, 'readers kept changing while being migrated');
  }
  report.ms = performance.now() - started;
  return report;
}
