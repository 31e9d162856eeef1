/** suppress, unsuppress, bounces (report, parse, unparsed) and bounce-server. */
import fs from 'node:fs';
import { DateTime } from 'luxon';
import type { BounceActivity } from '../../bounces/report';
import { findVerpTargets, verpSettings } from '../../mail/verp';
import { ConfigError, loadConfig } from '../../config/load';
import { DaybreakError } from '../../core/errors';
import type { Runtime } from '../../app/runtime';
import { loadCliConfig, parseEmailArgument, withRuntime, type GlobalOptions } from '../context';

/** A date (YYYY-MM-DD, local midnight), an ISO timestamp, or a span back from now: 7d, 24h. */
export function parseSince(value: string, now: Date): Date {
  const span = /^(\d{1,4})([dh])$/.exec(value);
  if (span) return new Date(now.getTime() - Number(span[1]) * (span[2] === 'd' ? 86_400_000 : 3_600_000));
  const dt = DateTime.fromISO(value);
  if (!dt.isValid) throw new DaybreakError('bad-input', `--since must be a date like 2026-11-24, a time like 2026-11-24T06:00, or a span like 7d or 24h (got "${value}")`);
  return dt.toJSDate();
}

function renderReport(r: BounceActivity, limit: number): string {
  const lines: string[] = [];
  lines.push(`Bounces and complaints since ${r.since.toISOString().replace('T', ' ').slice(0, 16)} UTC${r.editionId ? ` for edition ${r.editionId}` : ''}`);
  if (r.edition) {
    const e = r.edition;
    const attempted = e.sent + e.failed;
    const rate = (x: number) => (attempted ? ` (${((100 * x) / attempted).toFixed(2)}% of ${attempted} sends)` : '');
    lines.push(`Edition:   ${e.state}${e.reason ? ` — ${e.reason}` : ''}`);
    lines.push(`  readers bounced   ${e.bounced}${rate(e.bounced)}: ${e.bouncedHard} hard, ${e.blocked} blocked`);
    lines.push(`  readers complained ${e.complaints}${rate(e.complaints)}`);
  }
  const row = (label: string, count: number, addresses: number, note = '') => `  ${label.padEnd(12)} ${String(count).padStart(5)} event(s), ${String(addresses).padStart(5)} address(es)${note}`;
  lines.push('Events:');
  lines.push(row('hard', r.counts.hard, r.addresses.hard, '  (suppressed at once)'));
  lines.push(row('soft', r.counts.soft, r.addresses.soft, '  (counted; suppressed after repeated ones)'));
  lines.push(row('complaint', r.counts.complaint, r.addresses.complaint, '  (unsubscribed and suppressed)'));
  lines.push(row('delayed', r.counts.delayed, r.addresses.delayed, '  (still being retried; not counted)'));
  lines.push(row('unsubscribe', r.counts.unsubscribe, r.addresses.unsubscribe, '  (opted out at the provider)'));
  lines.push(`Suppressed by these events: ${r.suppressed}`);
  if (r.unparsed) lines.push(`Unreadable messages kept: ${r.unparsed} (see \`daybreak bounces unparsed\`)`);
  const shown = r.entries.filter((e) => e.kind !== 'delayed').slice(0, limit);
  if (shown.length) {
    lines.push('', 'Addresses (newest first):');
    const width = Math.min(40, Math.max(...shown.map((e) => e.email.length)));
    for (const e of shown) {
      const code = [e.replyCode, e.status].filter(Boolean).join(' ');
      const what = e.kind === 'complaint' ? `complaint${e.feedbackType ? ` (${e.feedbackType})` : ''}` : `${e.kind}${e.reason ? ` ${e.reason}` : ''}`;
      lines.push(`  ${e.at.replace('T', ' ').slice(0, 19)}  ${e.email.padEnd(width)}  ${what.padEnd(22)} ${code.padEnd(10)} ${e.source}${e.editionId ? ` ${e.editionId}` : ''}  -> ${e.action}`);
      if (e.diagnostic) lines.push(`      ${e.diagnostic.slice(0, 160)}`);
    }
    const more = r.entries.filter((e) => e.kind !== 'delayed').length - shown.length;
    if (more > 0) lines.push(`  … ${more} more (use --limit or --json)`);
  } else if (!r.entries.length) {
    lines.push('', 'Nothing recorded in this period.');
  }
  return lines.join('\n');
}

/** Waits for SIGINT/SIGTERM. */
function untilSignal(runtime: Runtime): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      runtime.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export async function suppress(rawEmail: string, opts: { reason: string }, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(rawEmail);
  if (!opts.reason.trim() || opts.reason.length > 300) throw new DaybreakError('bad-input', '--reason must be 1 to 300 characters');
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const existing = await runtime.subscribers.suppression(email);
    if (existing) {
      console.log(`${email} is already suppressed since ${existing.at} (${existing.reason}, ${existing.source}); left as it was.`);
      return;
    }
    await runtime.subscribers.suppress(email, { reason: opts.reason.trim(), source: 'cli', at: runtime.clock.now().toISOString() });
    const id = await runtime.subscribers.findIdByEmail(email);
    console.log(`Suppressed ${email}: ${opts.reason.trim()}.${id ? ` Subscriber ${id} keeps their record but gets no more mail, from queued editions too.` : ' No subscriber has this address yet; a sign-up will be refused.'}`);
  });
}

export async function unsuppress(rawEmail: string, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(rawEmail);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const existing = await runtime.subscribers.suppression(email);
    if (!existing) throw new DaybreakError('not-found', `${email} is not on the suppression list`);
    await runtime.subscribers.unsuppress(email);
    await runtime.bounces.clearSoftBounces(runtime.subscribers.hashOf(email));
    const sub = await runtime.subscribers.findByEmail(email);
    console.log(`Removed ${email} from the suppression list (was: ${existing.reason}, ${existing.source}, ${existing.at}).`);
    if (sub?.status === 'unsubscribed') console.log(`Subscriber ${sub.id} is still unsubscribed; they get mail again only if they sign up again.`);
  });
}

export async function report(opts: { edition?: string; since?: string; limit: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const now = runtime.clock.now();
    const since = opts.since ? parseSince(opts.since, now) : opts.edition ? new Date(0) : parseSince('7d', now);
    if (opts.edition && !(await runtime.editions.get(opts.edition))) throw new DaybreakError('not-found', `Edition ${opts.edition} does not exist (see \`daybreak editions\`)`);
    const { bounceReport } = require('../../bounces/report') as typeof import('../../bounces/report');
    const report = await bounceReport(runtime, { since, editionId: opts.edition });
    console.log(opts.json ? JSON.stringify(report, null, 2) : renderReport(report, opts.limit));
  });
}

export async function parse(files: string[], globals: GlobalOptions): Promise<void> {
  // VERP tokens are checked with the install secret when a config is there; parsing needs nothing else.
  let settings: ReturnType<typeof verpSettings>;
  let limits: { maxMessageBytes: number; timeBudgetMs: number } | undefined;
  try {
    const config = globals.config ? loadCliConfig(globals) : loadConfig();
    settings = verpSettings(config);
    limits = { maxMessageBytes: config.bounces.server.maxMessageBytes, timeBudgetMs: config.bounces.server.parseTimeBudgetMs };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  // Loaded here, not at start-up: every other command (and each worker) stays without mailparser.
  const { BounceParseError, parseBounce } = require('../../bounces/parse-bounce') as typeof import('../../bounces/parse-bounce');
  let failures = 0;
  // Each file gets its own line: one that cannot be read or that the parser refuses says why, and the rest go on.
  for (const file of files) {
    let raw: Buffer;
    try {
      raw = fs.readFileSync(file);
    } catch (error) {
      failures += 1;
      console.log(JSON.stringify({ file, error: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message, code: 'unreadable' }));
      continue;
    }
    let parsed: Awaited<ReturnType<typeof parseBounce>>;
    try {
      parsed = await parseBounce(raw, limits ?? {});
    } catch (error) {
      failures += 1;
      const known = error instanceof BounceParseError;
      console.log(JSON.stringify({ file, error: known ? error.message : `the parser failed: ${(error as Error).message}`, code: known ? error.code : 'parser-failure' }));
      continue;
    }
    const { parts, ...report } = parsed;
    const verp = settings ? findVerpTargets(settings, parts.raw.slice(0, 1024 * 1024)) : [];
    console.log(JSON.stringify({
      file,
      bounce: report.isBounce,
      kind: report.kind,
      format: report.format,
      recipients: report.recipients.map((r) => ({
        recipient: r.recipient, kind: r.kind, action: r.action, reason: r.reason, status: r.status ?? null, replyCode: r.replyCode ?? null, attribution: r.attribution,
        ...(r.reportedAs ? { reportedAs: r.reportedAs } : {}), ...(r.finalRecipient ? { finalRecipient: r.finalRecipient } : {}), diagnostic: r.diagnostic.slice(0, 300),
      })),
      ...(report.feedbackType ? { feedbackType: report.feedbackType } : {}),
      ...(report.note ? { note: report.note } : {}),
      ...(verp.length ? { verp } : {}),
      originalMessageIds: report.originalMessageIds,
    }));
  }
  // Exit status: 0 when every file was parsed (whatever it turned out to be), 1 when any could not be read or was refused.
  if (failures) process.exitCode = 1;
}

export async function unparsed(opts: { limit: number; raw?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const kept = await runtime.bounces.listUnparsed(opts.limit);
    if (!kept.length) {
      console.log('No unreadable messages kept.');
      return;
    }
    for (const m of kept) {
      console.log(`${m.at}  from ${m.mailFrom || '<>'} to ${m.rcptTo.join(', ')}  ${m.size} bytes\n  From: ${m.from}\n  Subject: ${m.subject}\n  Why: ${m.note}`);
      if (opts.raw) console.log(`\n${m.raw}\n${'-'.repeat(72)}`);
    }
  });
}

export async function bounceServer(opts: { port?: number; host?: string }, globals: GlobalOptions): Promise<void> {
  await withRuntime(globals, async (runtime) => {
    if (!runtime.config.delivery.bounceDomain) throw new DaybreakError('config-invalid', 'delivery.bounceDomain is not set: the bounce server only takes mail for that domain (see docs/bounces.md)');
    const { startBounceServer } = require('../../bounces/bounce-server') as typeof import('../../bounces/bounce-server');
    let server;
    try {
      server = await startBounceServer(runtime, { port: opts.port, host: opts.host });
    } catch (error) {
      throw new DaybreakError('bad-input', `cannot listen: ${(error as Error).message} (choose another --port or --host)`);
    }
    process.stderr.write(`Bounce server for ${runtime.config.delivery.bounceDomain} listening on ${server.host}:${server.port}\n`);
    await untilSignal(runtime);
    await server.close();
  });
}
