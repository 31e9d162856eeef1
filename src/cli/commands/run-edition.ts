/** `daybreak run-edition`: build and send a day's edition now, with progress, and say what happened. */
import path from 'node:path';
import { DateTime } from 'luxon';
import { SingleBar, Presets } from 'cli-progress';
import { DaybreakError } from '../../core/errors';
import { planEdition } from '../../delivery/build-edition';
import { editionIdFor, pendingCount, type Edition } from '../../delivery/edition';
import { writeOutboxIndex } from '../../ops/outbox-index';
import { runEditionNow } from '../../ops/run-now';
import type { Runtime } from '../../app/runtime';
import { editionSlot, isLocalDate, localDateOf } from '../../delivery/schedule';
import { outboxDir } from '../../mail/transports';
import { articleList } from '../article-list';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';

export function resolveLocalDate(runtime: Runtime, newsletterId: string, date: string | undefined): string {
  const newsletter = runtime.newsletter(newsletterId);
  if (date === undefined) return localDateOf(runtime.clock.now(), newsletter.timezone);
  if (!isLocalDate(date)) throw new DaybreakError('bad-input', `--date must be a calendar date like 2026-11-24 (got "${date}")`);
  return date;
}

const progressLineEveryMs = 5000;

/** Runs an edition with a progress bar and prints what happened; shared by run-edition and demo. */
export async function runEditionWithProgress(runtime: Runtime, newsletterId: string, localDate: string, options: { force?: boolean; concurrency?: number; quiet?: boolean }): Promise<Edition> {
  const bar = new SingleBar({ format: '  sending |{bar}| {value}/{total} settled · {sent} sent · {failed} failed · {skipped} skipped', hideCursor: true, clearOnComplete: false, noTTYOutput: false, stopOnComplete: false }, Presets.shades_classic);
  let barStarted = false;
  const interactive = process.stderr.isTTY && !options.quiet;
  // Off a terminal (cron, CI, a log), a line every few seconds instead of a bar, so minutes of
  // retries are never silent.
  let lastLine = 0;
  let lastState = '';
  const progressLine = (e: Edition) => {
    const now = Date.now();
    if (e.state === lastState && now - lastLine < progressLineEveryMs) return;
    lastLine = now;
    lastState = e.state;
    process.stdout.write(`${new Date(now).toISOString()} ${e.id} ${e.state}: ${n(e.sent + e.failed + e.skipped)}/${n(e.total)} settled, ${n(e.sent)} sent, ${n(e.failed)} failed, ${n(e.skipped)} skipped, ${n(pendingCount(e))} pending\n`);
  };
  const result = await runEditionNow(runtime, {
    newsletterId,
    localDate,
    force: options.force,
    concurrency: options.concurrency,
    onProgress: (e) => {
      if (options.quiet) return;
      if (!interactive) return progressLine(e);
      if (e.total === 0) return;
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
  if (e.failed > 0) out(`Next: \`daybreak resend ${e.id} --failed --dry-run\` lists the ${n(e.failed)} failed send(s) and why; without --dry-run it sends them again.`);
  // Sent in readers' zones: the waves whose time has come went; the rest go at theirs (none of a
  // failed or cancelled edition goes at all).
  const going = e.state === 'sending' || e.state === 'paused';
  const later = going ? ((await runtime.editions.waves(e.id))?.filter((w) => w.state === 'waiting') ?? []) : [];
  if (later.length) {
    const when = (w: { zone: string; due: Date }) => `${w.zone} at ${DateTime.fromJSDate(w.due, { zone: w.zone }).toFormat('ccc HH:mm')} there (${DateTime.fromJSDate(w.due, { zone: 'UTC' }).toFormat('HH:mm')} UTC)`;
    out(`Later waves (${later.length}): ${later.map(when).join(', ')}. A running \`daybreak worker\` (or \`daybreak start\`) sends each at its time.`);
  }
  if (e.state === 'sending' || e.state === 'paused') out(`Next: \`daybreak status ${e.id} --watch\` follows it.`);
  if (e.state === 'awaiting-approval') out(`Awaiting the editors' approval (${runtime.newsletter(e.newsletterId).approval}): the preview went to ${runtime.newsletter(e.newsletterId).editors.join(', ')}. \`daybreak editions approve ${e.id}\` approves it; \`--force\` sends it now without them.`);
  if ((e.state === 'done' || later.length > 0) && !runtime.config.smtpUrl && e.total > 0) {
    const dir = outboxDir(runtime.config);
    const index = await writeOutboxIndex(dir, e.id, { publicUrl: runtime.config.publicUrl });
    out(`Outbox: ${path.relative(process.cwd(), index) || index} (one .eml and one .html per message; set SMTP_URL to send for real)`);
    out(`Links and images in the emails point at PUBLIC_URL (${runtime.config.publicUrl}): \`${runtime.config.redisPrefix === 'daybreak' ? '' : `DAYBREAK_REDIS_PREFIX=${runtime.config.redisPrefix} `}npx daybreak serve\` on the same Redis makes them live.`);
  } else if (runtime.config.smtpUrl) {
    out(`Delivered through ${runtime.transport.description}`);
  }
  return e;
}

export async function runEdition(newsletterId: string, opts: { date?: string; dryRun?: boolean; force?: boolean; concurrency?: number }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const newsletter = runtime.newsletter(newsletterId);
    const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
    if (opts.dryRun) {
      const id = editionIdFor(newsletterId, localDate);
      const scheduledFor = editionSlot(newsletter.cron, newsletter.timezone, localDate);
      const plan = await planEdition(runtime, { id, newsletterId, localDate, scheduledFor });
      const readers = await runtime.subscribers.countMembers(newsletterId);
      console.log(`Dry run of ${id}: nothing stored, nothing sent.`);
      console.log(`Articles published ${plan.since.toISOString()} .. ${plan.cutoff.toISOString()}: ${plan.articles.length} picked of ${plan.considered} in the feed`);
      console.log(articleList(plan.articles).join('\n'));
      console.log(`Would go to up to ${readers} confirmed subscriber(s) (suppressed ones are skipped at send time).`);
      return;
    }
    const edition = await runEditionWithProgress(runtime, newsletterId, localDate, opts);
    if (edition.state === 'held') throw new DaybreakError('edition-held', `Edition ${edition.id} is held: ${edition.reason}`, { context: { edition: edition.id } });
    if (edition.state === 'failed') throw new DaybreakError('edition-failed', `Edition ${edition.id} failed: ${edition.reason}`, { context: { edition: edition.id } });
    if (edition.state === 'cancelled') throw new DaybreakError('refused', `Edition ${edition.id} was cancelled`, { context: { edition: edition.id } });
    if (edition.failed > 0) process.exitCode = 1;
  });
}
