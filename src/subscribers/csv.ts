/** CSV import and export of subscribers: a streamed, resynchronising reader, the Redis writes, a formula-safe writer. */
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { z } from 'zod';
import { DaybreakError } from '../core/errors';
import { canonicalTimeZone } from '../core/timezone';
import type { SubscriberStore } from './store';
import { findInvalidUtf8, readCsvLines, type CsvEncoding, type Utf8Problem } from './csv-lines';
import { emailSchema, subscriberNameSchema } from './email';

/**
 * CSV in and out. Import reads the file a line at a time (csv-lines.ts: a bad line costs that line
 * only, memory stays flat at any size), validates each row with zod (readSubscriberCsv, pure), and
 * imports good rows in batches with one atomic Redis script each
 * (SubscriberStore.importRow): rerunning a file changes nothing, and a suppressed or unsubscribed
 * address is never put back on a list. Export streams pages through csv-stringify, with every
 * cell made safe to open in a spreadsheet.
 */

export type ImportIssueKind = 'invalid' | 'skipped';

export interface ImportIssue {
  /** 1-based line of the file where the row starts. */
  line: number;
  kind: ImportIssueKind;
  reason: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  suppressed: number;
  unsubscribed: number;
  invalid: number;
  /** The first issues (all are also passed to onIssue as they happen). */
  issues: ImportIssue[];
  ms: number;
  ignoredColumns: string[];
  /** How the file was read: UTF-8, or Latin-1 when asked for (--encoding latin1). */
  encoding?: CsvEncoding;
}

export interface ImportOptions {
  store: SubscriberStore;
  file: string;
  /** Every newsletter id that exists (a row may name any of them). */
  knownNewsletters: readonly string[];
  /** --newsletter: these for every row; otherwise the row's `newsletters` column, else `defaultNewsletters`. */
  newsletters?: string[];
  defaultNewsletters: string[];
  confirmed: boolean;
  now: () => Date;
  onIssue?: (issue: ImportIssue) => void;
  onProgress?: (report: ImportReport) => void;
  batchSize?: number;
  maxIssuesKept?: number;
  /** UTF-8 (default: a file that is not valid UTF-8 is refused whole) or Latin-1 (ISO-8859-1), only when asked for. */
  encoding?: CsvEncoding;
  /** A longer line is reported as invalid and skipped (default 64 KB). */
  maxLineBytes?: number;
}

/** A file-level problem: unreadable, no header, no email column, not UTF-8. Nothing was imported. */
export class ImportFileError extends DaybreakError {
  constructor(message: string) {
    super('bad-input', message);
    this.name = 'ImportFileError';
  }
}

const columnAliases: Record<string, 'email' | 'name' | 'newsletters' | 'timezone'> = {
  email: 'email', emailaddress: 'email', mail: 'email',
  name: 'name', firstname: 'name', givenname: 'name', fullname: 'name',
  newsletters: 'newsletters', newsletter: 'newsletters', lists: 'newsletters', list: 'newsletters',
  // The reader's IANA zone (Europe/London), for newsletters delivered in readers' zones; empty: the newsletter's.
  timezone: 'timezone', tz: 'timezone', zone: 'timezone',
};

/** Exports prefix a quote to cells a spreadsheet would run as a formula; import takes it off again. */
const formulaStart = /^[=+\-@\t\r]/;

export function unescapeCell(value: string): string {
  return value.startsWith("'") && formulaStart.test(value.slice(1)) ? value.slice(1) : value;
}

export function safeCell(value: string): string {
  return formulaStart.test(value) ? `'${value}` : value;
}

const rowSchema = (known: ReadonlySet<string>) =>
  z.object({
    email: emailSchema,
    name: subscriberNameSchema.optional(),
    newsletters: z.array(z.string().refine((id) => known.has(id), { error: (iss) => `unknown newsletter "${shorten(String(iss.input), 40)}" (known: ${[...known].join(', ')})` })).optional(),
  });

function shorten(value: string, max = 60): string {
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** "line 12: invalid email "x@" (is not a valid email address)": what the CLI prints per bad row. */
export function formatIssue(issue: ImportIssue): string {
  return `line ${issue.line}: ${issue.kind === 'skipped' ? 'skipped: ' : ''}${issue.reason}`;
}

export interface SubscriberCsvOptions {
  /** Every newsletter id that exists (a row may name any of them). */
  knownNewsletters: readonly string[];
  /** --newsletter: these for every row; otherwise the row's `newsletters` column, else `defaultNewsletters`. */
  newsletters?: string[];
  defaultNewsletters: string[];
  /** How the file's bytes are text (default UTF-8). */
  encoding?: CsvEncoding;
  maxLineBytes?: number;
  /** Names the file in a file-level error. */
  label?: string;
}

export type SubscriberCsvItem =
  | { kind: 'header'; line: number; ignoredColumns: string[] }
  /** A row that passed validation: the address normalised, newsletters known and unique. */
  | { kind: 'row'; line: number; email: string; name?: string; timezone?: string; newsletters: string[] }
  | { kind: 'invalid'; line: number; reason: string };

/** Longest newsletters cell read (ids are short; this only bounds the split). */
const MAX_NEWSLETTERS_CELL = 1024;

/**
 * The pure side of import: bytes in, then the header, and one item per data line (a valid row
 * or the reason it is not), in file order. Every non-blank line after the header gives exactly
 * one item, so rows are counted truthfully. Throws ImportFileError when there is no usable header.
 */
export async function* readSubscriberCsv(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: SubscriberCsvOptions): AsyncGenerator<SubscriberCsvItem> {
  const label = options.label ?? 'the file';
  const schema = rowSchema(new Set(options.knownNewsletters));
  let columns: { email: number; name?: number; newsletters?: number; timezone?: number } | undefined;
  for await (const entry of readCsvLines(chunks, { encoding: options.encoding, maxLineBytes: options.maxLineBytes })) {
    if (!columns) {
      if (entry.kind === 'bad') throw new ImportFileError(`${label} line ${entry.line}: the header row cannot be read (${entry.reason}). The first row must name the columns, e.g. "email,name,newsletters".`);
      const found: { email?: number; name?: number; newsletters?: number; timezone?: number } = {};
      const ignoredColumns: string[] = [];
      entry.fields.forEach((header, i) => {
        const key = columnAliases[header.trim().toLowerCase().replace(/[\s_-]+/g, '')];
        if (key && found[key] === undefined) found[key] = i;
        else ignoredColumns.push(shorten(header.trim(), 40));
      });
      if (found.email === undefined) {
        throw new ImportFileError(`${label} line ${entry.line}: no email column in the header (found: ${entry.fields.slice(0, 10).map((h) => JSON.stringify(shorten(h, 30))).join(', ') || 'nothing'}). The first row must name the columns, e.g. "email,name,newsletters".`);
      }
      columns = { email: found.email, name: found.name, newsletters: found.newsletters, timezone: found.timezone };
      yield { kind: 'header', line: entry.line, ignoredColumns };
      continue;
    }
    if (entry.kind === 'bad') {
      yield { kind: 'invalid', line: entry.line, reason: entry.reason };
      continue;
    }
    const cell = (i: number | undefined) => (i === undefined ? undefined : unescapeCell((entry.fields[i] ?? '').trim()));
    const rawEmail = cell(columns.email) ?? '';
    const rawName = cell(columns.name);
    const rawList = cell(columns.newsletters);
    const rawZone = cell(columns.timezone);
    // Zone names are short: canonicalTimeZone refuses anything longer than 64 characters before Intl sees it.
    const timezone = rawZone ? canonicalTimeZone(rawZone) : undefined;
    if (rawZone && !timezone) {
      yield { kind: 'invalid', line: entry.line, reason: `invalid timezone "${shorten(rawZone, 40)}" (an IANA time zone such as Europe/London or America/New_York, or empty for the newsletter's)` };
      continue;
    }
    if (rawList && rawList.length > MAX_NEWSLETTERS_CELL) {
      yield { kind: 'invalid', line: entry.line, reason: `newsletters cell is longer than ${MAX_NEWSLETTERS_CELL} characters` };
      continue;
    }
    const listed = rawList ? rawList.split(/[;|,\s]+/).map((s) => s.trim().toLowerCase()).filter(Boolean) : [];
    const newsletters = options.newsletters ?? (listed.length ? listed : options.defaultNewsletters);
    // The schemas cap the address at 254 characters and the name at 100 before anything else looks at them.
    const parsed = schema.safeParse({ email: rawEmail, ...(rawName ? { name: rawName } : {}), newsletters });
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const field = String(first?.path[0] ?? 'row');
      const shown = field === 'email' ? ` "${shorten(rawEmail)}"` : field === 'name' ? ` "${shorten(rawName ?? '')}"` : '';
      const reason = rawEmail === '' && field === 'email' ? 'no email address' : field === 'newsletters' ? (first?.message ?? 'unknown newsletter') : `invalid ${field}${shown} (${first?.message ?? 'invalid'})`;
      yield { kind: 'invalid', line: entry.line, reason };
      continue;
    }
    yield { kind: 'row', line: entry.line, email: parsed.data.email, name: parsed.data.name || undefined, timezone, newsletters: [...new Set(parsed.data.newsletters ?? [])] };
  }
  if (!columns) throw new ImportFileError(`${label} is empty: expected a header row such as "email,name,newsletters"`);
}

/** The one-line refusal of a file that is not UTF-8 (see findInvalidUtf8). */
export function notUtf8Message(label: string, problem: Utf8Problem): string {
  const hex = problem.byte.toString(16).toUpperCase().padStart(2, '0');
  return `${label} line ${problem.line}: byte 0x${hex} is not valid UTF-8, so the file is not UTF-8 and nothing was imported. Save it as UTF-8 (Excel: "CSV UTF-8"), or if it is Latin-1 import it with --encoding latin1.`;
}

function openFile(file: string): Promise<fs.ReadStream> {
  const input = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  return new Promise((resolve, reject) => {
    input.once('open', () => resolve(input));
    input.once('error', (error: NodeJS.ErrnoException) => reject(new ImportFileError(`cannot read ${file}: ${error.code ?? error.message}`)));
  });
}

export async function importCsv(options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 500;
  const maxKept = options.maxIssuesKept ?? 1000;
  const encoding = options.encoding ?? 'utf8';
  const report: ImportReport = { rows: 0, created: 0, updated: 0, unchanged: 0, suppressed: 0, unsubscribed: 0, invalid: 0, issues: [], ms: 0, ignoredColumns: [], encoding };
  const issue = (line: number, kind: ImportIssueKind, reason: string) => {
    const item = { line, kind, reason };
    if (report.issues.length < maxKept) report.issues.push(item);
    options.onIssue?.(item);
  };
  const form = `import:${path.basename(options.file)}`;
  const consentText = options.confirmed ? 'imported as confirmed: the list owner holds the consent' : 'imported as pending: not confirmed';

  // A file that is not UTF-8 is refused before anything is written (one read through; cheap next to Redis).
  if (encoding === 'utf8') {
    const scan = await openFile(options.file);
    const problem = await findInvalidUtf8(scan);
    scan.destroy();
    if (problem) throw new ImportFileError(notUtf8Message(options.file, problem));
  }

  type Pending = { line: number; email: string; name?: string; timezone?: string; newsletters: string[] };
  let batch: Pending[] = [];
  const inFlight: Array<Promise<void>> = [];
  const maxInFlight = 4;

  const flush = async () => {
    const rows = batch;
    batch = [];
    const now = options.now();
    // Sent together (auto-pipelined); Redis runs the scripts one by one, in order.
    const results = await Promise.all(rows.map((r) => options.store.importRow({ email: r.email, name: r.name, timezone: r.timezone, newsletters: r.newsletters, confirmed: options.confirmed, source: form, form, consentText, now })));
    results.forEach((result, i) => {
      const row = rows[i] as Pending;
      switch (result.outcome) {
        case 'created': report.created++; break;
        case 'updated': report.updated++; break;
        case 'unchanged': report.unchanged++; break;
        case 'suppressed':
          report.suppressed++;
          issue(row.line, 'skipped', `${row.email} is on the suppression list; not imported`);
          break;
        case 'unsubscribed':
          report.unsubscribed++;
          issue(row.line, 'skipped', `${row.email} unsubscribed${result.at ? ` on ${result.at.toISOString().slice(0, 10)}` : ''}; not re-subscribed`);
          break;
      }
    });
    options.onProgress?.(report);
  };

  const input = await openFile(options.file);
  try {
    const items = readSubscriberCsv(input, { knownNewsletters: options.knownNewsletters, newsletters: options.newsletters, defaultNewsletters: options.defaultNewsletters, encoding, maxLineBytes: options.maxLineBytes, label: options.file });
    for await (const item of items) {
      if (item.kind === 'header') {
        report.ignoredColumns = item.ignoredColumns;
        continue;
      }
      report.rows++;
      if (item.kind === 'invalid') {
        report.invalid++;
        issue(item.line, 'invalid', item.reason);
        continue;
      }
      batch.push({ line: item.line, email: item.email, name: item.name, timezone: item.timezone, newsletters: item.newsletters });
      if (batch.length >= batchSize) {
        // A few batches in flight keep Redis busy while the next rows are parsed. Order is kept:
        // one connection, and Redis runs the scripts in the order they were sent.
        const flushing = flush();
        flushing.catch(() => undefined); // awaited below; this only stops an early failure counting as unhandled
        inFlight.push(flushing);
        if (inFlight.length >= maxInFlight) await inFlight.shift();
      }
    }
  } finally {
    input.destroy();
  }
  if (batch.length) inFlight.push(flush());
  await Promise.all(inFlight);
  report.ms = performance.now() - started;
  return report;
}

export const EXPORT_COLUMNS = ['id', 'email', 'name', 'status', 'newsletters', 'created_at', 'confirmed_at', 'updated_at', 'source', 'timezone'] as const;

/**
 * Streams subscribers as CSV (everyone, or a newsletter's confirmed members) to `out`, page by
 * page, honouring back-pressure. Every cell is formula-safe (see safeCell).
 */
export async function exportCsv(store: SubscriberStore, out: Writable, options: { newsletterId?: string } = {}): Promise<{ rows: number }> {
  const stringifier = stringify({ header: true, columns: [...EXPORT_COLUMNS], cast: { string: (value) => safeCell(value) } });
  const toStdout = out === process.stdout;
  const piped = new Promise<void>((resolve, reject) => {
    stringifier.on('error', reject);
    out.on('error', reject);
    // A file is done when its last byte is flushed; stdout is never ended, only drained.
    if (toStdout) stringifier.on('end', resolve);
    else out.on('finish', resolve);
  });
  stringifier.pipe(out, { end: !toStdout });
  let rows = 0;
  for await (const page of store.scan({ newsletterId: options.newsletterId })) {
    for (const s of page) {
      const ok = stringifier.write({
        id: s.id,
        email: s.email,
        name: s.name ?? '',
        status: s.status,
        newsletters: s.newsletters.join(';'),
        created_at: s.createdAt.toISOString(),
        confirmed_at: s.confirmedAt ? s.confirmedAt.toISOString() : '',
        updated_at: s.updatedAt.toISOString(),
        source: s.source ?? '',
        timezone: s.timezone ?? '',
      });
      rows++;
      if (!ok) await once(stringifier, 'drain');
    }
  }
  stringifier.end();
  await piped;
  return { rows };
}
