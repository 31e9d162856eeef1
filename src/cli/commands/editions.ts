import type { Command } from 'commander';
import { finalStates, pendingCount, type Edition } from '../../delivery/edition';
import type { Runtime } from '../../delivery/runtime';
import { formatDuration } from '../../delivery/status';
import { parsePositiveInt, withRuntime, type GlobalOptions } from '../context';
import { asCliErrors, localTime, n } from './status';

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

export function registerEditions(program: Command, globals: () => GlobalOptions): void {
  program
    .command('editions')
    .description('recent editions, newest first, with state, counts and duration')
    .option('--newsletter <id>', 'only this newsletter')
    .option('--limit <n>', 'how many (default 20)', parsePositiveInt('--limit'))
    .option('--json', 'machine-readable output')
    .action(async (opts: { newsletter?: string; limit?: number; json?: boolean }) => {
      await withRuntime({ ...globals(), logLevel: process.env.LOG_LEVEL ?? 'warn' }, (runtime) =>
        asCliErrors(async () => {
          if (opts.newsletter) runtime.newsletter(opts.newsletter);
          const editions = await runtime.editions.list(opts.newsletter, opts.limit ?? 20);
          if (opts.json) {
            const now = runtime.clock.now();
            console.log(JSON.stringify(editions.map((e) => ({ ...e, pending: pendingCount(e), durationMs: durationOf(e, now) })), null, 2));
            return;
          }
          if (editions.length === 0) {
            console.log(`No editions yet${opts.newsletter ? ` for ${opts.newsletter}` : ''}. (\`daybreak run-edition <newsletter>\` sends today's.)`);
            return;
          }
          console.log(renderEditionsTable(runtime, editions));
        }),
      );
    });
}
