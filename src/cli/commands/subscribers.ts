/** `daybreak subscribers …`: add, import, export, show, remove, forget, counts. */
import path from 'node:path';
import { DaybreakError } from '../../core/errors';
import { canonicalTimeZone } from '../../core/timezone';
import type { Runtime } from '../../app/runtime';
import { subscriberNameSchema } from '../../subscribers/email';
import { exportCsv, formatIssue, ImportFileError, importCsv } from '../../subscribers/csv';
import type { CsvEncoding } from '../../subscribers/csv-lines';
import type { Subscriber } from '../../subscribers/store';
import { openWriteStream } from '../files';
import { parseEmailArgument, withRuntime, type GlobalOptions } from '../context';
import { forgetReader } from '../../ops/erase';

function checkNewsletters(runtime: Runtime, ids: string[] | undefined): void {
  for (const id of ids ?? []) runtime.newsletter(id);
}

async function requireSubscriber(runtime: Runtime, email: string): Promise<Subscriber> {
  const sub = await runtime.subscribers.findByEmail(email);
  if (sub) return sub;
  const suppression = await runtime.subscribers.suppression(email);
  throw new DaybreakError('not-found', `No subscriber ${email}${suppression ? ` (the address is suppressed: ${suppression.reason}, since ${suppression.at})` : ''}`);
}

/** Rows that name no newsletter join the ones ticked by default on the form (else the first). */
function defaultNewsletters(runtime: Runtime): string[] {
  const ticked = runtime.config.newsletters.filter((n) => n.defaultChecked).map((n) => n.id);
  return ticked.length ? ticked : [runtime.config.newsletters[0]?.id as string];
}

const iso = (d?: Date) => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

/** A confirmed reader, as ops add one they know. */
export async function add(rawEmail: string, opts: { name?: string; newsletter?: string[]; timezone?: string }, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(rawEmail);
  const name = opts.name === undefined ? undefined : subscriberNameSchema.safeParse(opts.name);
  if (name && !name.success) throw new DaybreakError('bad-input', `--name ${name.error.issues[0]?.message}`);
  const timezone = opts.timezone === undefined ? undefined : canonicalTimeZone(opts.timezone);
  if (opts.timezone !== undefined && !timezone) throw new DaybreakError('bad-input', `--timezone "${opts.timezone}" is not an IANA time zone (such as Europe/London or America/New_York)`);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const newsletters = opts.newsletter ?? [runtime.config.newsletters[0]?.id as string];
    checkNewsletters(runtime, newsletters);
    const { subscriber, created } = await runtime.subscribers.add({ email, name: name?.data, timezone, newsletters, confirmed: true, source: 'cli', now: runtime.clock.now() });
    const zone = subscriber.timezone ? `, time zone ${subscriber.timezone}` : '';
    console.log(`${created ? 'Added' : 'Updated'} subscriber ${subscriber.id} <${subscriber.email}>: ${subscriber.status}, newsletters ${subscriber.newsletters.join(', ')}${zone}`);
  });
}

/** --encoding: the two ways a subscriber file is read. */
function parseEncoding(value: string | undefined): CsvEncoding {
  const name = (value ?? 'utf8').trim().toLowerCase().replace(/[^a-z0-9]/g, '');
  if (name === 'utf8') return 'utf8';
  if (name === 'latin1' || name === 'iso88591') return 'latin1';
  throw new DaybreakError('bad-input', `Unknown --encoding "${value}": use utf8 (the default) or latin1`);
}

export async function importFile(file: string, opts: { newsletter?: string[]; confirmed?: boolean; quiet?: boolean; encoding?: string }, globals: GlobalOptions): Promise<void> {
  const encoding = parseEncoding(opts.encoding);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    checkNewsletters(runtime, opts.newsletter);
    const full = path.resolve(file);
    let shownIssues = 0;
    try {
      const report = await importCsv({
        store: runtime.subscribers,
        file: full,
        knownNewsletters: runtime.config.newsletters.map((n) => n.id),
        newsletters: opts.newsletter,
        defaultNewsletters: defaultNewsletters(runtime),
        confirmed: Boolean(opts.confirmed),
        encoding,
        now: () => runtime.clock.now(),
        onIssue: (issue) => {
          if (opts.quiet) return;
          shownIssues++;
          process.stderr.write(`${path.basename(full)}: ${formatIssue(issue)}\n`);
        },
      });
      const secs = report.ms / 1000;
      console.log(`Imported ${path.basename(full)} in ${secs.toFixed(1)} s (${Math.round(report.rows / Math.max(secs, 0.001)).toLocaleString('en-GB')} rows/s), as ${opts.confirmed ? 'confirmed' : 'pending'}:`);
      if (encoding === 'latin1') console.log('  read as Latin-1 (ISO-8859-1), as --encoding latin1 asked: check a few names with `subscribers show`');
      console.log(`  ${report.rows} rows: ${report.created} new, ${report.updated} updated, ${report.unchanged} unchanged`);
      console.log(`  skipped: ${report.suppressed} suppressed, ${report.unsubscribed} unsubscribed (never re-subscribed by import)`);
      console.log(`  invalid: ${report.invalid}${report.invalid && !opts.quiet ? ' (listed above, by line)' : ''}`);
      if (report.ignoredColumns.length) console.log(`  ignored columns: ${report.ignoredColumns.join(', ')}`);
      if (shownIssues === 0 && report.invalid + report.suppressed + report.unsubscribed > 0 && opts.quiet) console.log('  (run without --quiet to list each row)');
      if (report.invalid > 0) process.exitCode = 1;
    } catch (error) {
      if (error instanceof ImportFileError) throw new DaybreakError('bad-input', error.message, { cause: error });
      throw error;
    }
  });
}

export async function exportFile(opts: { newsletter?: string; out?: string }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    checkNewsletters(runtime, opts.newsletter ? [opts.newsletter] : undefined);
    // 0o600: the file holds personal data. Opened before any row is read, so a bad path fails at once.
    const out = opts.out ? await openWriteStream(path.resolve(opts.out), 'the export') : process.stdout;
    const { rows } = await exportCsv(runtime.subscribers, out, { newsletterId: opts.newsletter });
    if (opts.out) process.stderr.write(`Exported ${rows} subscriber${rows === 1 ? '' : 's'} to ${opts.out}\n`);
  });
}

export async function show(raw: string, opts: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(raw);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const sub = await requireSubscriber(runtime, email);
    const [history, consent, pending, suppression] = await Promise.all([
      runtime.subscribers.history(sub.id),
      runtime.subscribers.consent(sub.id),
      runtime.subscribers.pendingSignup(sub.id),
      runtime.subscribers.suppression(sub.email),
    ]);
    if (opts.json) {
      console.log(JSON.stringify({ subscriber: sub, suppression: suppression ?? null, pendingSignup: pending ?? null, consent, history }, null, 2));
      return;
    }
    const names = (ids: string[]) => ids.map((id) => runtime.config.newsletters.find((n) => n.id === id)?.name ?? id).join(', ') || '(none)';
    console.log(`Subscriber ${sub.id} <${sub.email}>`);
    console.log(`  name:         ${sub.name ?? '-'}`);
    console.log(`  status:       ${sub.status}${sub.confirmedAt ? ` (confirmed ${iso(sub.confirmedAt)})` : ''}`);
    console.log(`  newsletters:  ${names(sub.newsletters)}`);
    console.log(`  created:      ${iso(sub.createdAt)}${sub.source ? ` via ${sub.source}` : ''}`);
    console.log(`  updated:      ${iso(sub.updatedAt)}`);
    console.log(`  suppressed:   ${suppression ? `yes: ${suppression.reason} (${suppression.source}, ${suppression.at})` : 'no'}`);
    if (pending) console.log(`  waiting for:  confirmation of ${names(pending.newsletters)} (${pending.kind}, asked ${pending.requestedAt} via ${pending.context.form})`);
    console.log('Consent:');
    if (!consent.length) console.log('  (none recorded)');
    for (const c of consent) {
      const where = [c.form && `form ${c.form}`, c.ip && `from ${c.ip}`, c.userAgent && `agent "${c.userAgent}"`, c.requestedAt && `asked ${c.requestedAt}`, c.confirmedIp && `confirmed from ${c.confirmedIp}`, c.reason && `reason ${c.reason}`].filter(Boolean).join(', ');
      console.log(`  ${c.at}  ${c.action.padEnd(9)} ${names(c.newsletters)}${where ? `  (${where})` : ''}`);
      if (c.consentText) console.log(`      text: "${c.consentText}"`);
    }
    console.log('History:');
    for (const h of history) console.log(`  ${h.at}  ${h.event}${h.detail ? `  ${JSON.stringify(h.detail)}` : ''}`);
  });
}

export async function remove(raw: string, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(raw);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const sub = await requireSubscriber(runtime, email);
    if (sub.status === 'unsubscribed') {
      console.log(`${sub.email} (subscriber ${sub.id}) is already unsubscribed (since ${iso(sub.updatedAt)}).`);
      return;
    }
    const after = await runtime.subscribers.unsubscribe(sub.id, { reason: 'removed by ops', form: 'cli', now: runtime.clock.now() });
    console.log(`Unsubscribed ${after.email} (subscriber ${after.id}) from ${sub.newsletters.join(', ') || 'everything'}; sends already queued for them will be skipped.`);
  });
}

export async function forget(raw: string, globals: GlobalOptions): Promise<void> {
  const email = parseEmailArgument(raw);
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const { id } = await forgetReader(runtime, email, { now: runtime.clock.now(), source: 'cli forget' });
    console.log(id
      ? `Erased subscriber ${id}: record, history, consent log and pending sign-up deleted. The address is now suppressed by its keyed hash only.`
      : `No subscriber held for that address; its keyed hash is now on the suppression list, so it will not be imported or signed up.`);
  });
}

export async function counts(globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const ids = runtime.config.newsletters.map((n) => n.id);
    const counts = await runtime.subscribers.counts(ids);
    const width = Math.max(...runtime.config.newsletters.map((n) => n.name.length), 10);
    console.log(`${'newsletter'.padEnd(width)}  confirmed    pending  unsubscribed`);
    for (const n of runtime.config.newsletters) {
      const c = counts[n.id] ?? { confirmed: 0, pending: 0, unsubscribed: 0 };
      console.log(`${n.name.padEnd(width)}  ${String(c.confirmed).padStart(9)}  ${String(c.pending).padStart(9)}  ${String(c.unsubscribed).padStart(12)}`);
    }
  });
}
