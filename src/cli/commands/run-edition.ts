import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { planEdition } from '../../delivery/build-edition';
import { editionIdFor, pendingCount, type Edition } from '../../delivery/edition';
import { writeOutboxIndex } from '../../delivery/outbox-index';
import { runEditionNow } from '../../delivery/run-now';
import type { Runtime } from '../../delivery/runtime';
import { isLocalDate, localDateOf, scheduledSlot } from '../../delivery/schedule';
import { outboxDir } from '../../delivery/transports';
import { articleList } from '../article-list';
import { CliError, parsePositiveInt, withRuntime, type GlobalOptions } from '../context';

export function resolveLocalDate(runtime: Runtime, newsletterId: string, date: string | undefined): string {
  const newsletter = runtime.newsletter(newsletterId);
  if (date === undefined) return localDateOf(runtime.clock.now(), newsletter.timezone);
  if (!isLocalDate(date)) throw new CliError(`--date must be a calendar date like 2026-11-24 (got "${date}")`, 2);
  return date;
}

/** Runs an edition with a progress bar and prints what happened; shared by run-edition and demo. */
export async function runEditionWithProgress(runtime: Runtime, newsletterId: string, localDate: string, options: { force?: boolean; concurrency?: number; quiet?: boolean }): Promise<Edition> {
  const editionId = editionIdFor(newsletterId, localDate);
  const bar = new SingleBar({ format: '  sending |{bar}| {value}/{total} settled · {sent} sent · {failed} failed · {skipped} skipped', hideCursor: true, clearOnComplete: false, noTTYOutput: false, stopOnComplete: false }, Presets.shades_classic);
  let barStarted = false;
  const interactive = process.stderr.isTTY && !options.quiet;
  const result = await runEditionNow(runtime, {
    newsletterId,
    localDate,
    force: options.force,
    concurrency: options.concurrency,
    onProgress: (e) => {
      if (!interactive || e.total === 0) return;
      const payload = { sent: e.sent, failed: e.failed, skipped: e.skipped };
      if (!barStarted) {
        bar.start(e.total, e.sent + e.failed + e.skipped, payload);
        barStarted = true;
      }
      bar.setTotal(e.total);
      bar.update(e.sent + e.failed + e.skipped, payload);
    },
  });
  if (barStarted) bar.stop();
  const e = result.edition;
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`Edition ${e.id} (${e.newsletterId}, ${e.localDate}): ${e.state}`);
  if (result.alreadyFinished) {
    out(`Already ${e.state}${e.finishedAt ? ` at ${e.finishedAt.toISOString()}` : ''}: ${e.sent} sent, ${e.failed} failed, ${e.skipped} skipped. Nothing new to send.`);
    return e;
  }
  if (result.broughtWorkers) out('No workers were running, so this command ran its own.');
  if (e.subject) out(`Subject: ${e.subject}`);
  if (e.articleIds.length) {
    out(`Articles picked (${e.articleIds.length}):`);
    out(articleList(e.articles).join('\n'));
  }
  out(`Messages: ${e.sent} sent, ${e.failed} failed, ${e.skipped} skipped, ${pendingCount(e)} pending, of ${e.total}`);
  out(`Time: ${(result.ms / 1000).toFixed(2)} s`);
  for (const w of e.warnings) out(`Warning: ${w}`);
  if (e.reason) out(`Reason: ${e.reason}`);
  if (e.state === 'done' && !runtime.config.smtpUrl && e.total > 0) {
    const dir = outboxDir(runtime.config);
    const index = await writeOutboxIndex(dir, e.id, { publicUrl: runtime.config.publicUrl });
    out(`Outbox: ${path.relative(process.cwd(), index) || index} (one .eml and one .html per message; set SMTP_URL to send for real)`);
    out(`Links and images in the emails point at PUBLIC_URL (${runtime.config.publicUrl}): \`${runtime.config.redisPrefix === 'daybreak' ? '' : `DAYBREAK_REDIS_PREFIX=${runtime.config.redisPrefix} `}npx daybreak serve\` on the same Redis makes them live.`);
  } else if (runtime.config.smtpUrl) {
    out(`Delivered through ${runtime.transport.description}`);
  }
  return e;
}

export function registerRunEdition(program: Command, globals: () => GlobalOptions): void {
  program
    .command('run-edition')
    .description("build and send a newsletter's edition for a day now, and wait until it is done")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .option('--date <YYYY-MM-DD>', "the edition's date in the newsletter's time zone (default: today)")
    .option('--dry-run', 'show what would be picked and who would get it; send nothing, store nothing')
    .option('--force', 'send an edition that was held as too late for its send window')
    .option('--concurrency <n>', 'sends in flight when this command runs its own workers', parsePositiveInt('--concurrency'))
    .action(async (newsletterId: string, opts: { date?: string; dryRun?: boolean; force?: boolean; concurrency?: number }) => {
      await withRuntime({ ...globals(), logLevel: process.env.LOG_LEVEL ?? 'warn' }, async (runtime) => {
        const newsletter = runtime.newsletter(newsletterId);
        const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
        if (opts.dryRun) {
          const id = editionIdFor(newsletterId, localDate);
          const scheduledFor = scheduledSlot(newsletter.cron, newsletter.timezone, localDate) ?? runtime.clock.now();
          const plan = await planEdition(runtime, { id, newsletterId, localDate, scheduledFor });
          const readers = await runtime.subscribers.countMembers(newsletterId);
          console.log(`Dry run of ${id}: nothing stored, nothing sent.`);
          console.log(`Articles published ${plan.since.toISOString()} .. ${plan.cutoff.toISOString()}: ${plan.articles.length} picked of ${plan.considered} in the feed`);
          console.log(articleList(plan.articles).join('\n'));
          console.log(`Would go to up to ${readers} confirmed subscriber(s) (suppressed ones are skipped at send time).`);
          return;
        }
        const edition = await runEditionWithProgress(runtime, newsletterId, localDate, opts);
        if (edition.state === 'held') throw new CliError(`Edition ${edition.id} is held: ${edition.reason}`, 4);
        if (edition.state === 'failed') throw new CliError(`Edition ${edition.id} failed: ${edition.reason}`, 1);
        if (edition.state === 'cancelled') throw new CliError(`Edition ${edition.id} was cancelled`, 1);
        if (edition.failed > 0) process.exitCode = 1;
      });
    });
}
