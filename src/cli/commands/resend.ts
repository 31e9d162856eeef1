/** `daybreak resend`: plan (and with --dry-run only show) a resend, then carry it out. */
import { SingleBar } from 'cli-progress';
import { DaybreakError } from '../../core/errors';
import { executeResend, planResend, type ResendPlan, type ResendTarget } from '../../ops/resend';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';

const reasonLabel: Record<ResendTarget['reason'], string> = {
  explicit: 'explicit resend',
  failed: 'failed',
  queued: 'queued, never sent',
  claimed: 'claimed, never recorded',
  'not-in-ledger': 'never queued',
};

/** What a resend job did, in words (the processor's return values). */
const outcomeLabel: Record<string, string> = {
  sent: 'sent',
  failed: 'failed',
  skipped: 'skipped (suppressed or unsubscribed by now)',
  'already-sent': 'already sent (by the edition\'s own queued job, or another resend)',
  'already-settled': 'already settled',
  cancelled: 'not sent (edition cancelled)',
};

function describeTarget(t: ResendTarget, eligible = true): string {
  const who = `${t.subscriberId.padStart(7)}  ${t.email ?? '(address gone)'}`;
  const what = t.skipBecause ? `${eligible ? 'will be skipped' : 'left failed'}: ${t.skipBecause}` : reasonLabel[t.reason];
  return `  ${who}  ${what}${t.detail ? ` — ${t.detail}` : ''}`;
}

export function renderPlan(plan: ResendPlan, dryRun: boolean): string {
  const lines: string[] = [];
  const sendable = plan.targets.filter((t) => !t.skipBecause);
  const skipping = plan.targets.length - sendable.length;
  if (plan.targets.length === 0 && plan.notEligible.length === 0) return `${dryRun ? 'Dry run: ' : ''}${plan.editionId} (${plan.mode}): nobody to resend to.`;
  lines.push(`${dryRun ? 'Dry run: would resend' : 'Resending'} ${plan.editionId} (${plan.mode}) to ${n(sendable.length)} reader(s)${skipping ? `; ${n(skipping)} more would be settled as skipped` : ''}.`);
  const shown = plan.targets.slice(0, dryRun ? Infinity : 50);
  for (const t of shown) lines.push(describeTarget(t));
  if (plan.targets.length > shown.length) lines.push(`  … and ${n(plan.targets.length - shown.length)} more (--dry-run lists them all)`);
  if (plan.notEligible.length) {
    lines.push(`Not resent (no longer deliverable, left as failed): ${n(plan.notEligible.length)}`);
    for (const t of plan.notEligible.slice(0, dryRun ? Infinity : 20)) lines.push(describeTarget(t, false));
  }
  if (plan.completesFanout) lines.push("The edition's fan-out never finished; this resend also covers every member it did not reach.");
  return lines.join('\n');
}

export async function resend(id: string, opts: { to?: string; failed?: boolean; unsent?: boolean; dryRun?: boolean; wait: boolean; concurrency?: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  if (!opts.to && !opts.failed && !opts.unsent) throw new DaybreakError('bad-input', 'Say whom to resend to: --to EMAIL, --failed or --unsent (see --help).');
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const plan = await planResend(runtime, id, { to: opts.to, failed: opts.failed, unsent: opts.unsent });
    if (opts.dryRun) {
      console.log(opts.json ? JSON.stringify({ dryRun: true, ...plan }, null, 2) : renderPlan(plan, true));
      return;
    }
    if (!opts.json) console.log(renderPlan(plan, false));
    if (plan.targets.length === 0) {
      if (opts.json) console.log(JSON.stringify({ editionId: id, queued: 0, outcomes: {} }));
      else console.log(`Nothing to resend: ${opts.failed && !opts.unsent ? 'no failed send is still deliverable' : 'every reader of this edition has a sent (or settled) mark'}.`);
      return;
    }
    const interactive = process.stderr.isTTY && !opts.json;
    const bar = new SingleBar({ format: '  resending |{bar}| {value}/{total} · {sent} sent · {failed} failed · {skipped} skipped · {other} other', hideCursor: true, barsize: 30 });
    let started = false;
    const result = await executeResend(runtime, plan, {
      wait: opts.wait,
      concurrency: opts.concurrency,
      onProgress: (p) => {
        if (!interactive) return;
        const o = p.outcomes;
        const known = (o.sent ?? 0) + (o.failed ?? 0) + (o.skipped ?? 0);
        const payload = { sent: o.sent ?? 0, failed: o.failed ?? 0, skipped: o.skipped ?? 0, other: p.done - known };
        if (!started) {
          bar.start(p.total, p.done, payload);
          started = true;
        } else bar.update(p.done, payload);
      },
    });
    if (started) bar.stop();
    const failed = Object.entries(result.outcomes).filter(([k]) => k === 'failed' || k.startsWith('error')).reduce((sum, [, v]) => sum + v, 0);
    if (opts.json) {
      console.log(JSON.stringify({ editionId: id, queued: result.queued, alreadyHandled: result.alreadyHandled, waited: result.waited, broughtWorkers: result.broughtWorkers, otherWorkers: result.otherWorkers, outcomes: result.outcomes, perSubscriber: Object.fromEntries(result.perSubscriber), ms: Math.round(result.ms) }, null, 2));
    } else {
      if (result.alreadyHandled) console.log(`${n(result.alreadyHandled)} failed send(s) were no longer failed when the resend ran (resent meanwhile); left alone.`);
      if (result.queued === 0) {
        console.log('Nothing left for this command to send.');
      } else if (!result.waited) {
        console.log(`Queued ${n(result.queued)} send job(s); follow them with \`daybreak status ${id} --watch\`.`);
        if ((await runtime.queues.send(plan.newsletterId).getWorkersCount()) === 0) console.log('No worker is connected to send them: start `daybreak worker`.');
      } else {
        if (result.broughtWorkers) console.log(result.otherWorkers === 0 ? 'No workers were running, so this command ran its own.' : `Sent by this command's own workers, with ${n(result.otherWorkers)} worker connection(s) already running.`);
        const parts = Object.entries(result.outcomes).map(([k, v]) => `${n(v)} ${outcomeLabel[k] ?? k}`);
        console.log(`Done in ${(result.ms / 1000).toFixed(1)} s: ${parts.join(', ') || 'nothing to do'}.`);
        for (const [sub, outcome] of result.perSubscriber) if (outcome === 'failed' || outcome.startsWith('error')) console.log(`  subscriber ${sub}: ${outcome}`);
      }
      console.log(`Recorded in the history of ${id}.`);
    }
    if (failed > 0) process.exitCode = 1;
  });
}
