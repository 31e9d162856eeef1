import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { z } from 'zod';
import type { SubscriberStore } from './store';
import { emailSchema, subscriberNameSchema } from './email';

/**
 * CSV in and out. Import streams the file through csv-parse in batches (memory stays flat at any
 * size), validates each row with zod, and imports good rows with one atomic Redis script each
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
}

/** A file-level problem: no header, no email column. Nothing was imported. */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportFileError';
  }
}

const columnAliases: Record<string, 'email' | 'name' | 'newsletters'> = {
  email: 'email', emailaddress: 'email', mail: 'email',
  name: 'name', firstname: 'name', givenname: 'name', fullname: 'name',
  newsletters: 'newsletters', newsletter: 'newsletters', lists: 'newsletters', list: 'newsletters',
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

/**
 * CRLF to LF before parsing: csv-parse miscounts lines for CRLF inside quoted fields, and bad-row
 * reports must name the right line. A "\r" at a chunk's end waits for the next chunk.
 */
function crlfToLf(): Transform {
  let held = '';
  return new Transform({
    decodeStrings: false,
    transform(chunk: Buffer | string, _encoding, done) {
      let text = held + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      held = '';
      if (text.endsWith('\r')) {
        held = '\r';
        text = text.slice(0, -1);
      }
      done(null, text.replace(/\r\n/g, '\n'));
    },
    flush(done) {
      done(null, held);
    },
  });
}

export async function importCsv(options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const known = new Set(options.knownNewsletters);
  const schema = rowSchema(known);
  const batchSize = options.batchSize ?? 500;
  const maxKept = options.maxIssuesKept ?? 1000;
  const report: ImportReport = { rows: 0, created: 0, updated: 0, unchanged: 0, suppressed: 0, unsubscribed: 0, invalid: 0, issues: [], ms: 0, ignoredColumns: [] };
  const issue = (line: number, kind: ImportIssueKind, reason: string) => {
    const item = { line, kind, reason };
    if (report.issues.length < maxKept) report.issues.push(item);
    options.onIssue?.(item);
  };
  const form = `import:${path.basename(options.file)}`;
  const consentText = options.confirmed ? 'imported as confirmed: the list owner holds the consent' : 'imported as pending: not confirmed';

  let lastEndLine = 0;
  const parser = parse({
    bom: true,
    info: true,
    raw: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // A stray quote inside a field is taken literally (validation then refuses the row) rather than
    // swallowing the rest of the file into one field.
    relax_quotes: true,
    max_record_size: 64 * 1024,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      report.rows++;
      report.invalid++;
      issue(lastEndLine + 1, 'invalid', `malformed CSV (${error?.message.replace(/ at line \d+.*$/, '') ?? 'unreadable record'})`);
      // csv-parse puts the line it stopped at on the error (not in its types).
      const stoppedAt = (error as unknown as { lines?: unknown } | undefined)?.lines;
      if (typeof stoppedAt === 'number') lastEndLine = stoppedAt;
    },
  });
  // Decoded as UTF-8 here, so a multi-byte character split across chunks stays whole.
  const input = fs.createReadStream(options.file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new ImportFileError(`cannot read ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  input.on('error', (error) => parser.destroy(error));
  input.pipe(crlfToLf()).pipe(parser);

  let columns: { email: number; name?: number; newsletters?: number } | undefined;
  type Pending = { line: number; email: string; name?: string; newsletters: string[] };
  let batch: Pending[] = [];
  const inFlight: Array<Promise<void>> = [];
  const maxInFlight = 4;

  const flush = async () => {
    const rows = batch;
    batch = [];
    const now = options.now();
    // Sent together (auto-pipelined); Redis runs the scripts one by one, in order.
    const results = await Promise.all(rows.map((r) => options.store.importRow({ email: r.email, name: r.name, newsletters: r.newsletters, confirmed: options.confirmed, source: form, form, consentText, now })));
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

  for await (const entry of parser as AsyncIterable<{ record: string[]; info: { lines: number }; raw: string }>) {
    const body = entry.raw.replace(/^[\r\n]+/, '').replace(/\r?\n$/, '');
    const line = entry.info.lines - (body.match(/\n/g)?.length ?? 0);
    lastEndLine = entry.info.lines;
    if (!columns) {
      const found: { email?: number; name?: number; newsletters?: number } = {};
      entry.record.forEach((header, i) => {
        const key = columnAliases[header.trim().toLowerCase().replace(/[\s_-]+/g, '')];
        if (key && found[key] === undefined) found[key] = i;
        else report.ignoredColumns.push(header.trim());
      });
      if (found.email === undefined) {
        input.destroy();
        throw new ImportFileError(`${options.file} line ${line}: no email column in the header (found: ${entry.record.map((h) => JSON.stringify(shorten(h, 30))).join(', ') || 'nothing'}). The first row must name the columns, e.g. "email,name,newsletters".`);
      }
      columns = { email: found.email, name: found.name, newsletters: found.newsletters };
      continue;
    }
    report.rows++;
    const cell = (i: number | undefined) => (i === undefined ? undefined : unescapeCell((entry.record[i] ?? '').trim()));
    const rawEmail = cell(columns.email) ?? '';
    const rawName = cell(columns.name);
    const rawList = cell(columns.newsletters);
    const listed = rawList ? rawList.split(/[;|,\s]+/).map((s) => s.trim().toLowerCase()).filter(Boolean) : [];
    const newsletters = options.newsletters ?? (listed.length ? listed : options.defaultNewsletters);
    const parsed = schema.safeParse({ email: rawEmail, ...(rawName ? { name: rawName } : {}), newsletters });
    if (!parsed.success) {
      report.invalid++;
      const first = parsed.error.issues[0];
      const field = String(first?.path[0] ?? 'row');
      const shown = field === 'email' ? ` "${shorten(rawEmail)}"` : field === 'name' ? ` "${shorten(rawName ?? '')}"` : '';
      const reason = rawEmail === '' && field === 'email' ? 'no email address' : field === 'newsletters' ? (first?.message ?? 'unknown newsletter') : `invalid ${field}${shown} (${first?.message ?? 'invalid'})`;
      issue(line, 'invalid', reason);
      continue;
    }
    batch.push({ line, email: parsed.data.email, name: parsed.data.name || undefined, newsletters: [...new Set(parsed.data.newsletters ?? [])] });
    if (batch.length >= batchSize) {
      // A few batches in flight keep Redis busy while the next rows are parsed. Order is kept:
      // one connection, and Redis runs the scripts in the order they were sent.
      const flushing = flush();
      flushing.catch(() => undefined); // awaited below; this only stops an early failure counting as unhandled
      inFlight.push(flushing);
      if (inFlight.length >= maxInFlight) await inFlight.shift();
    }
  }
  if (!columns) throw new ImportFileError(`${options.file} is empty: expected a header row such as "email,name,newsletters"`);
  if (batch.length) inFlight.push(flush());
  await Promise.all(inFlight);
  report.ms = performance.now() - started;
  return report;
}

export const EXPORT_COLUMNS = ['id', 'email', 'name', 'status', 'newsletters', 'created_at', 'confirmed_at', 'updated_at', 'source'] as const;

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
      });
      rows++;
      if (!ok) await once(stringifier, 'drain');
    }
  }
  stringifier.end();
  await piped;
  return { rows };
}
