/** `daybreak status`: where an edition stands, once or live. */
import { SingleBar } from 'cli-progress';
import { DateTime } from 'luxon';
import type { Runtime } from '../../app/runtime';
import { editionStatus, formatDuration, resolveEditionRef, type EditionStatus } from '../../ops/status';
import { articleList } from '../article-list';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';

export function localTime(runtime: Runtime, newsletterId: string, iso: string | undefined, format = 'yyyy-LL-dd HH:mm:ss'): string {
  if (!iso) return '-';
  const zone = runtime.config.newsletters.find((x) => x.id === newsletterId)?.timezone ?? 'UTC';
  return DateTime.fromISO(iso, { zone }).toFormat(format);
}

function pct(part: number, total: number): string {
  return total > 0 ? ` (${((100 * part) / total).toFixed(1)}%)` : '';
}

export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined) return '-';
  return perSecond >= 10 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/** The human-readable status block. */
export function renderStatus(runtime: Runtime, s: EditionStatus): string {
  const zone = runtime.config.newsletters.find((x) => x.id === s.newsletterId)?.timezone ?? 'UTC';
  const c = s.counts;
  const lines: string[] = [];
  lines.push(`${s.id} · ${s.newsletterName} · ${DateTime.fromISO(s.localDate, { zone }).setLocale('en-GB').toFormat('cccc d LLLL yyyy')}`);
  lines.push(`State:     ${s.state}${s.state === 'sending' && !s.fanoutDone ? ' (still queueing readers)' : ''}${s.reason ? ` — ${s.reason}` : ''}`);
  if (s.subject) lines.push(`Subject:   ${s.subject}`);
  if (s.articles.length) {
    lines.push(`Articles:  ${s.articles.length}`);
    lines.push(...articleList(s.articles));
  }
  const w = Math.max(6, n(c.total).length);
  const row = (label: string, value: number, note = '') => `  ${label.padEnd(10)} ${n(value).padStart(w)}${note}`;
  lines.push(`Messages:  ${n(c.total)} readers`);
  lines.push(row('sent', c.sent, pct(c.sent, c.total)));
  lines.push(row('failed', c.failed, c.failed ? '  <- see `daybreak resend --failed --dry-run`' : ''));
  lines.push(row('bounced', c.bounced, c.complaints ? `  (${n(c.complaints)} complaint(s))` : ''));
  lines.push(row('skipped', c.skipped, '  (suppressed or unsubscribed)'));
  lines.push(row('pending', c.pending));
  const started = s.startedAt ? `${localTime(runtime, s.newsletterId, s.startedAt, 'HH:mm:ss')} ${zone}` : 'not yet';
  lines.push(`Started:   ${started}${s.finishedAt ? `, finished ${localTime(runtime, s.newsletterId, s.finishedAt, 'HH:mm:ss')}` : ''}${s.durationMs !== undefined ? ` (${formatDuration(s.durationMs)}${s.final ? '' : ' so far'})` : ''}`);
  if (s.rate) {
    const eta = s.etaSeconds !== undefined ? ` · ETA ${formatDuration(s.etaSeconds * 1000)} (about ${localTime(runtime, s.newsletterId, new Date(runtime.clock.now().getTime() + s.etaSeconds * 1000).toISOString(), 'HH:mm:ss')})` : '';
    lines.push(`Rate:      ${formatRate(s.rate.perSecond)} ${s.rate.basis === 'recent' ? `over the last ${s.rate.windowSeconds}s` : 'on average'}${eta}`);
  }
  if (s.relay) {
    const error = s.relay.lastError ? ` (${s.relay.lastError})` : '';
    const probe = s.relay.nextProbeAt ? `; next probe ${localTime(runtime, s.newsletterId, s.relay.nextProbeAt, 'HH:mm:ss')}` : '';
    lines.push(`Relay:     unreachable since ${localTime(runtime, s.newsletterId, s.relay.unreachableSince, 'HH:mm:ss')} ${zone}${error}; sending paused${probe}${s.relay.probes ? `, ${n(s.relay.probes)} probe(s) so far` : ''}`);
  }
  if (!s.final || s.queue.waiting + s.queue.active + s.queue.delayed > 0) {
    lines.push(`Queue:     ${n(s.queue.waiting)} waiting, ${n(s.queue.active)} active, ${n(s.queue.delayed)} delayed${s.queue.paused ? ' (queue paused)' : ''} · ${s.queue.workers} worker connection(s)`);
  }
  if (s.readersDroppedAt) lines.push(`Readers:   who got it was forgotten ${localTime(runtime, s.newsletterId, s.readersDroppedAt, 'yyyy-LL-dd')} (after the retention); counts and archive page kept`);
  else if (s.compactedAt) lines.push(`Readers:   ledger compacted ${localTime(runtime, s.newsletterId, s.compactedAt, 'yyyy-LL-dd')} (readers sent kept as bits; everything still answers)`);
  if (s.waves?.length) {
    // One edition, sent in waves: each at the schedule's time in its zone.
    lines.push(`Waves:     ${s.waves.length} (one per zone: queued, sent, pending, due in the zone's time)`);
    const zw = Math.max(...s.waves.map((x) => x.zone.length + (x.isDefault ? 2 : 0)));
    for (const x of s.waves) {
      const due = DateTime.fromISO(x.due, { zone: x.zone });
      const state = x.state === 'held' ? 'held' : x.state === 'waiting' ? 'waiting' : x.forced ? 'out (forced)' : 'out';
      lines.push(`  ${`${x.zone}${x.isDefault ? ' *' : ''}`.padEnd(zw)}  ${due.toFormat('ccc dd LLL HH:mm ZZZZ')} (${DateTime.fromISO(x.due, { zone: 'UTC' }).toFormat('HH:mm')} UTC)  ${state.padEnd(12)} ${n(x.queued).padStart(w)} ${n(x.sent).padStart(w)} ${n(x.pending).padStart(w)}`);
    }
    lines.push('  (* the newsletter\'s own zone: readers with no zone of their own too)');
  }
  const providers = (s.providers ?? []).filter((p) => p.sent + p.deferred > 0 || p.pausedUntil || p.deferringSince);
  if (providers.length) {
    // Each provider group's share of this edition, and its pace now (shared by every newsletter).
    lines.push('Providers: sent, deferred, pace now');
    const gw = Math.max(...providers.map((p) => p.group.length));
    for (const p of providers) {
      const pace = p.pausedUntil ? `paused until ${localTime(runtime, s.newsletterId, p.pausedUntil, 'HH:mm')}` : p.pace === undefined ? 'not paced' : `${formatRate(p.pace)}${p.fullPace !== undefined && p.pace < p.fullPace ? ` of ${formatRate(p.fullPace)} (slowed: deferring)` : ''}`;
      lines.push(`  ${p.group.padEnd(gw)} ${n(p.sent).padStart(w)} ${n(p.deferred).padStart(w)}  ${pace}`);
    }
  }
  for (const warning of s.warnings) lines.push(`Warning:   ${warning}`);
  if (s.history.length) {
    lines.push('History:');
    for (const h of s.history) {
      const { at, event, ...rest } = h;
      const detail = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      lines.push(`  ${localTime(runtime, s.newsletterId, at, 'LLL dd HH:mm:ss')}  ${event}${detail ? `  ${detail}` : ''}`);
    }
  }
  for (const note of s.notes) lines.push(`Note:      ${note}`);
  return lines.join('\n');
}

/** Polls until the edition is final, with a live bar on a terminal (or a line every few seconds in a log). */
async function watch(runtime: Runtime, id: string, opts: { json?: boolean; intervalMs: number }): Promise<EditionStatus> {
  const interactive = process.stderr.isTTY && !opts.json;
  const bar = new SingleBar({
    format: ' {id} |{bar}| {percentage}% · {value}/{total} settled · {sent} sent · {failed} failed · {skipped} skipped · {rate} · ETA {eta_h} · {state}',
    hideCursor: true,
    barsize: 28,
    clearOnComplete: false,
    stopOnComplete: false,
    etaBuffer: 1,
  });
  let started = false;
  // The watcher's own samples give a smooth rate even before any worker's samples exist.
  const samples: Array<{ t: number; settled: number }> = [];
  let lastLine = 0;
  let lastJson = '';
  for (;;) {
    const s = await editionStatus(runtime, id, { historyLines: 0 });
    const settled = s.counts.sent + s.counts.failed + s.counts.skipped;
    const t = Date.now();
    samples.push({ t, settled });
    while (samples.length > 2 && t - (samples[0] as { t: number }).t > 15_000) samples.shift();
    const first = samples[0] as { t: number; settled: number };
    const own = t - first.t >= 2000 ? (settled - first.settled) / ((t - first.t) / 1000) : undefined;
    const rate = s.state === 'sending' ? (own ?? s.rate?.perSecond) : s.rate?.perSecond;
    const eta = s.state === 'sending' && rate && rate > 0 && s.counts.pending > 0 ? Math.ceil(s.counts.pending / rate) : undefined;
    const payload = { id: s.id, sent: n(s.counts.sent), failed: n(s.counts.failed), skipped: n(s.counts.skipped), rate: formatRate(rate), eta_h: eta === undefined ? '-' : formatDuration(eta * 1000), state: s.state };
    if (opts.json) {
      const line = JSON.stringify({ ...s, rate: rate === undefined ? s.rate : { perSecond: rate, basis: own === undefined ? s.rate?.basis : 'watch', windowSeconds: Math.round((t - first.t) / 1000) }, etaSeconds: eta });
      const key = `${s.state}|${settled}|${s.counts.total}`;
      if (key !== lastJson || s.final) process.stdout.write(`${line}\n`);
      lastJson = key;
    } else if (interactive) {
      if (!started && s.counts.total > 0) {
        bar.start(s.counts.total, settled, payload);
        started = true;
      } else if (started) {
        bar.setTotal(Math.max(1, s.counts.total));
        bar.update(settled, payload);
      }
    } else if (t - lastLine >= 5000 || s.final) {
      process.stdout.write(`${new Date(t).toISOString()} ${s.id} ${s.state}: ${n(settled)}/${n(s.counts.total)} settled, ${n(s.counts.sent)} sent, ${n(s.counts.failed)} failed, ${n(s.counts.skipped)} skipped, ${n(s.counts.pending)} pending, ${formatRate(rate)}, ETA ${payload.eta_h}\n`);
      lastLine = t;
    }
    if (s.final) {
      if (started) bar.stop();
      return s;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

export async function status(ref: string, opts: { watch?: boolean; json?: boolean; interval?: number }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const { id, viaNewsletter } = await resolveEditionRef(runtime, ref);
    if (viaNewsletter && !opts.json) process.stderr.write(`(newest ${ref} edition: ${id})\n`);
    if (opts.watch) {
      const final = await watch(runtime, id, { json: opts.json, intervalMs: (opts.interval ?? 1) * 1000 });
      if (!opts.json) console.log(renderStatus(runtime, await editionStatus(runtime, final.id)));
      return;
    }
    const s = await editionStatus(runtime, id);
    console.log(opts.json ? JSON.stringify(s, null, 2) : renderStatus(runtime, s));
  });
}
