/** Fuzzes CSV import with a few hundred seeded, mutated files: no crash, no hang, every data line accounted for once. */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runtime } from '../../src/app/runtime';
import { findInvalidUtf8 } from '../../src/subscribers/csv-lines';
import { ImportFileError, importCsv, readSubscriberCsv, type ImportIssue, type SubscriberCsvItem } from '../../src/subscribers/csv';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { prng } from '../helpers/prng';

const SEED = 0x5eed_c5a7;
const FILES = 300;
/** One file in this many is also imported into Redis, end to end. */
const IMPORT_EVERY = 25;


type Rand = () => number;
const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;

const names = ['Ada', 'José Ñúñez', "Tom O'Neill", '李雷', 'Priya', '', 'Grace "G" Hopper', 'Smith, John', 'Zoë'];
const lists = ['national', 'national;london', 'scotland|yorkshire', '', 'atlantis'];

function baseFile(rand: Rand, index: number): Buffer {
  let text = pick(rand, ['email,name,newsletters', 'Email Address,First Name,Lists,Notes', 'email']);
  const columns = text.split(',').length;
  const eol = pick(rand, ['\n', '\r\n', '\r']);
  const rows = int(rand, 0, 40);
  for (let i = 0; i < rows; i++) {
    const name = pick(rand, names);
    const cells = [`fuzz-${index}-${i}@example.com`, /[",]/.test(name) ? `"${name.replace(/"/g, '""')}"` : name, pick(rand, lists), 'note'].slice(0, columns);
    text += eol + cells.join(',');
  }
  if (rand() < 0.7) text += eol;
  return Buffer.from(text, 'utf8');
}

function splice(buf: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, at), insert, buf.subarray(Math.min(buf.length, at + remove))]);
}

const mutations: Array<(rand: Rand, buf: Buffer) => Buffer> = [
  // truncation
  (rand, buf) => buf.subarray(0, int(rand, 0, buf.length)),
  // binary
  (rand, buf) => splice(buf, int(rand, 0, buf.length), 0, Buffer.from(Array.from({ length: int(rand, 1, 40) }, () => int(rand, 0, 255)))),
  // a huge field (past the 64 KB line limit), sometimes of binary
  (rand, buf) => splice(buf, int(rand, 0, buf.length), 0, rand() < 0.5 ? Buffer.alloc(int(rand, 65 * 1024, 200 * 1024), 'x') : Buffer.from(Array.from({ length: 70 * 1024 }, () => int(rand, 32, 255)))),
  // unbalanced quotes
  (rand, buf) => {
    let out = buf;
    for (let k = int(rand, 1, 4); k > 0; k--) out = splice(out, int(rand, 0, out.length), 0, Buffer.from('"'));
    return out;
  },
  // mixed line endings
  (rand, buf) => Buffer.from(buf.toString('latin1').replace(/\r\n|\r|\n/g, () => pick(rand, ['\n', '\r\n', '\r', '\n\r', '\r\r\n'])), 'latin1'),
  // bad encodings: Latin-1 bytes, a cut multi-byte character, an overlong, a surrogate
  (rand, buf) => splice(buf, int(rand, 0, buf.length), 0, Buffer.from(pick(rand, [[0xe9], [0xc3], [0xe6, 0x9d], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff], [0x80, 0x80]]))),
  // blank lines, NULs, a BOM, a deleted range, a repeated stretch
  (rand, buf) => splice(buf, int(rand, 0, buf.length), 0, Buffer.from(pick(rand, ['\n\n', '\r\n\r\n', '\0\0', ',,,', ' \t ']))),
  (rand, buf) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]),
  (rand, buf) => {
    const at = int(rand, 0, buf.length);
    return splice(buf, at, int(rand, 1, 80), Buffer.alloc(0));
  },
  (rand, buf) => {
    const at = int(rand, 0, buf.length);
    return splice(buf, at, 0, buf.subarray(at, at + int(rand, 1, 200)));
  },
];

function mutate(rand: Rand, buf: Buffer): Buffer {
  let out = buf;
  for (let k = int(rand, 1, 3); k > 0; k--) out = pick(rand, mutations)(rand, out);
  return out;
}

/** The bytes cut in random places (across CRLFs and multi-byte characters too). */
function chunked(rand: Rand, buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const size = rand() < 0.3 ? int(rand, 1, 3) : int(rand, 1, 4096);
    chunks.push(buf.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/**
 * The oracle, written independently of the parser: the numbers of the non-blank lines, where CR,
 * LF and CRLF each end a line and a UTF-8 BOM at the very start is not content.
 */
function nonBlankLines(buf: Buffer): number[] {
  const text = buf.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  const out: number[] = [];
  text.split(/\r\n|\r|\n/).forEach((line, i) => {
    if (line !== '') out.push(i + 1);
  });
  return out;
}

/** The oracle's line of the first bad UTF-8 byte: a streaming decoder fails first on adding it. */
function oracleBadUtf8Line(buf: Buffer): number | undefined {
  if (isUtf8(buf)) return undefined;
  const okAsStream = (n: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let lo = 0; // okAsStream(lo) holds
  let hi = buf.length; // the smallest failing length is at most hi (or none: a cut-off end)
  if (okAsStream(buf.length)) return buf.toString('latin1').split(/\r\n|\r|\n/).length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (okAsStream(mid)) lo = mid;
    else hi = mid;
  }
  return buf.subarray(0, hi - 1).toString('latin1').split(/\r\n|\r|\n/).length;
}

type Outcome = { fileError: string } | { header: number; items: SubscriberCsvItem[] };

async function readAll(chunks: Buffer[], encoding: 'utf8' | 'latin1'): Promise<Outcome> {
  const items: SubscriberCsvItem[] = [];
  try {
    for await (const item of readSubscriberCsv(chunks, { knownNewsletters: ['national', 'london', 'scotland', 'yorkshire'], defaultNewsletters: ['national'], encoding, label: 'fuzz.csv' })) items.push(item);
  } catch (error) {
    if (error instanceof ImportFileError) return { fileError: error.message };
    throw error;
  }
  const [header, ...rest] = items;
  expect(header?.kind).toBe('header');
  return { header: header?.line as number, items: rest };
}

function expectAccounted(outcome: Outcome, lines: number[]): void {
  if ('fileError' in outcome) {
    // Refused as a file: it had no usable header, and the message names the header's line.
    if (lines.length === 0) expect(outcome.fileError).toMatch(/is empty/);
    else expect(outcome.fileError).toContain(`fuzz.csv line ${lines[0]}:`);
    return;
  }
  expect(outcome.header).toBe(lines[0]);
  // Every data line once, in order: valid rows + invalid rows = data lines, no line reported twice.
  expect(outcome.items.map((i) => i.line)).toEqual(lines.slice(1));
  for (const item of outcome.items) {
    if (item.kind === 'invalid') expect(item.reason.length).toBeGreaterThan(0);
    else expect(item.kind).toBe('row');
  }
}

describe('CSV import fuzz (seeded)', () => {
  let runtime: Runtime;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-csv-fuzz-'));

  beforeAll(async () => {
    runtime = testRuntime(testConfig(uniquePrefix('csv-fuzz')));
    await runtime.subscribers.suppress('fuzz-0-1@example.com', { reason: 'hard bounce', source: 'test' });
  });
  afterAll(async () => {
    await closeRuntime(runtime);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test(`${FILES} mutated files: no crash or hang, every data line accounted for exactly once, UTF-8 refusal names the right line`, async () => {
    const rand = prng(SEED);
    let badLinesSeen = 0;
    let filesRefusedAsNotUtf8 = 0;
    for (let index = 0; index < FILES; index++) {
      const file = index === 0 ? baseFile(rand, index) : mutate(rand, baseFile(rand, index));
      const lines = nonBlankLines(file);
      const context = `file #${index} (seed ${SEED}): ${JSON.stringify(file.subarray(0, 300).toString('latin1'))}`;
      try {
        // The UTF-8 check finds a problem exactly when there is one, on the line the oracle says.
        const problem = await findInvalidUtf8(chunked(rand, file));
        expect(problem?.line).toBe(oracleBadUtf8Line(file));
        if (problem) {
          filesRefusedAsNotUtf8++;
          expect(file[problem.offset]).toBe(problem.byte);
        }

        // Both ways of reading, cut into chunks two different ways: same answers, all lines accounted for.
        for (const encoding of ['utf8', 'latin1'] as const) {
          const whole = await readAll([file], encoding);
          const pieces = await readAll(chunked(rand, file), encoding);
          expect(pieces).toEqual(whole);
          expectAccounted(whole, lines);
          if ('items' in whole) badLinesSeen += whole.items.filter((i) => i.kind === 'invalid').length;
          // The unmutated file: every row imports but those naming a newsletter that does not exist.
          if (index === 0 && encoding === 'utf8' && 'items' in whole) expect(whole.items.filter((i) => i.kind === 'invalid' && !i.reason.includes('atlantis'))).toEqual([]);
        }

        if (index % IMPORT_EVERY === 0) {
          // End to end into Redis: imported + invalid + skipped = data lines, each issue's line once.
          const csv = path.join(tmp, `fuzz-${index}.csv`);
          fs.writeFileSync(csv, file);
          const issues: ImportIssue[] = [];
          const run = importCsv({ store: runtime.subscribers, file: csv, knownNewsletters: ['national', 'london', 'scotland', 'yorkshire'], defaultNewsletters: ['national'], confirmed: true, now: () => new Date('2026-11-24T09:00:00Z'), onIssue: (i) => issues.push(i), encoding: problem ? 'latin1' : 'utf8' });
          const outcome = await readAll([file], problem ? 'latin1' : 'utf8');
          if ('fileError' in outcome) {
            await expect(run).rejects.toThrow(ImportFileError);
          } else {
            const report = await run;
            expect(report.rows).toBe(lines.length - 1);
            expect(report.created + report.updated + report.unchanged + report.invalid + report.suppressed + report.unsubscribed).toBe(report.rows);
            expect(new Set(issues.map((i) => i.line)).size).toBe(issues.length);
            expect(report.invalid).toBe(outcome.items.filter((i) => i.kind === 'invalid').length);
          }
        }
      } catch (error) {
        throw new Error(`${context}\n${(error as Error).message}`, { cause: error });
      }
    }
    // The mutations did their job: plenty of bad lines and non-UTF-8 files were made and handled.
    expect(badLinesSeen).toBeGreaterThan(100);
    expect(filesRefusedAsNotUtf8).toBeGreaterThan(20);
  }, 120_000);
});
