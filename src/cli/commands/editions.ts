/** `daybreak editions`: recent editions as a table or JSON; `editions compact`: the lifecycle's work on demand. */
import { finalStates, pendingCount, type Edition } from '../../delivery/edition';
import type { Runtime } from '../../app/runtime';
import { formatDuration } from '../../ops/status';
import type { LifecycleAction } from '../../ops/lifecycle';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';
import { localTime } from './status';

function durationOf(e: Edition, now: Date): number | undefined {
  if (!e.startedAt) return undefined;
  const end = e.finishedAt ?? (finalStates.has(e.state) ? undefined : now);
  return end ? Math.max(0, end.getTime() - e.startedAt.getTime()) : undefined;
}

export function renderEditionsTable(runtime: Runtime, editions: Edition[]): string {
  const now = runtime.clock.now();
  const header = ['EDITION', 'STATE', 'TOTAL', 'SENT', 'FAILED', 'BOUNCED', 'SKIPPED', 'PENDING', 'STARTED (local)', 'DURATION'];
  const rows = editions.map((e) => [
    e.id, e.state, n(e.total), n(e.sent), n(e.failed), n(e.bounced), n(e.skipped), n(pendingCount(e)),
    e.startedAt ? localTime(runtime, e.newsletterId, e.startedAt.toISOString(), 'yyyy-LL-dd HH:mm') : '-',
    formatDuration(durationOf(e, now)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export async function editions(opts: { newsletter?: string; limit?: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    if (opts.newsletter) runtime.newsletter(opts.newsletter);
    const list = await runtime.editions.list(opts.newsletter, opts.limit ?? 20);
    if (opts.json) {
      const now = runtime.clock.now();
      console.log(JSON.stringify(list.map((e) => ({ ...e, pending: pendingCount(e), durationMs: durationOf(e, now) })), null, 2));
      return;
    }
    if (list.length === 0) {
      console.log(`No editions yet${opts.newsletter ? ` for ${opts.newsletter}` : ''}. (\`daybreak run-edition <newsletter>\` sends today's.)`);
      return;
    }
    console.log(renderEditionsTable(runtime, list));
  });
}

/** "12.1 MB", "13.2 KB", "96 B" */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

function describeAction(runtime: Runtime, a: LifecycleAction): string {
  if (a.action === 'compacted') {
    const r = a.result;
    return `Compacted ${a.editionId}: ${n(r.sentBits)} reader(s) sent kept as bits, ${n(r.kept)} other entr${r.kept === 1 ? 'y' : 'ies'} kept with their detail; ledger ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)} (${formatDuration(r.ms)})`;
  }
  return `Dropped the per-reader data of ${a.editionId} (finished ${n(a.finishedDaysAgo)} days ago; retention ${n(runtime.config.retention.readerDataDays)} days): its counts, history and archive page are kept`;
}

export async function compact(editionId: string | undefined, opts: { olderThan?: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const { runLifecycle } = require('../../ops/lifecycle') as typeof import('../../ops/lifecycle');
    const report = await runLifecycle(runtime, { editionId, olderThanDays: opts.olderThan, onAction: opts.json ? undefined : (a) => console.log(describeAction(runtime, a)) });
    if (opts.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const settle = opts.olderThan ?? runtime.config.retention.settleDays;
    if (editionId) {
      if (report.actions.length === 0) {
        const e = await runtime.editions.get(editionId);
        console.log(`${editionId} was compacted already${e?.compactedAt ? ` (${e.compactedAt.toISOString()})` : ''}; its per-reader data is kept until ${n(runtime.config.retention.readerDataDays)} days after it finished.`);
      }
      return;
    }
    const rest = [
      report.settling ? `${n(report.settling)} finished edition(s) inside their ${n(settle)}-day settle window` : '',
      report.retained ? `${n(report.retained)} compacted edition(s) keeping their per-reader data until ${n(runtime.config.retention.readerDataDays)} days` : '',
    ].filter(Boolean);
    console.log(`${report.actions.length ? 'Nothing else is due' : 'Nothing is due'}${rest.length ? `: ${rest.join('; ')}` : ''}.`);
  });
}
