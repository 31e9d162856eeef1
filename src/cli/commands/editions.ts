/** `daybreak editions`: recent editions as a table or JSON. */
import { finalStates, pendingCount, type Edition } from '../../delivery/edition';
import type { Runtime } from '../../delivery/runtime';
import { formatDuration } from '../../ops/status';
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
