import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import type { Runtime } from '../../src/app/runtime';
import { exportCsv, importCsv, safeCell, unescapeCell, type ImportIssue } from '../../src/subscribers/csv';
import { runCli } from '../helpers/cli';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { forgetReader } from '../../src/ops/erase';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-csv-'));

function writeCsv(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

const daybreak = (args: string[], env: Record<string, string> = {}) => runCli(args, { LOG_LEVEL: 'error', ...env });

async function exportToString(runtime: Runtime, newsletterId?: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportCsv(runtime.subscribers, out, { newsletterId });
  return Buffer.concat(chunks).toString('utf8');
}

describe('CSV import and export', () => {
  let runtime: Runtime;
  const now = () => new Date('2026-11-24T09:00:00Z');
  const base = () => ({ store: runtime.subscribers, knownNewsletters: runtime.config.newsletters.map((n) => n.id), defaultNewsletters: ['national'], now });

  beforeAll(() => {
    runtime = testRuntime(testConfig(uniquePrefix('csv')));
  });
  afterAll(async () => {
    await closeRuntime(runtime);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('reports each bad row with its line number and reason, and imports the good ones', async () => {
    const file = writeCsv('mixed.csv', [
      '\uFEFFEmail Address,First_Name,Newsletters,Notes', // 1 (with a BOM)
      'ada@example.com,Ada,national;london,vip', //          2
      'not-an-email,Bob,,', //                              3
      '', //                                                4 (blank: ignored)
      'carol@example.com,"Carol', //                         5 (a quote left open: this line only is refused)
      'Smith",north-east,', //                               6 (and this one is read afresh)
      'dave@example.com,Dave,atlantis,', //                  7
      ',No Address,,', //                                    8
      'EVE@Example.com,"Eve ""Q"" Jones",NATIONAL | Yorkshire,', // 9
      'frank@example.com,Fr"ank,,', //                       10 (a stray quote is taken literally, not the rest of the file)
      `grace@example.com,${'G'.repeat(101)},,`, //            11
      'ada@example.com,Ada Again,scotland,', //              12 (same address: adds a newsletter)
    ].join('\r\n'));
    const issues: ImportIssue[] = [];
    const report = await importCsv({ ...base(), file, confirmed: true, onIssue: (i) => issues.push(i) });
    expect(report).toMatchObject({ rows: 10, created: 3, updated: 1, unchanged: 0, invalid: 6, suppressed: 0, unsubscribed: 0, ignoredColumns: ['Notes'] });
    expect(issues.map((i) => [i.line, i.kind])).toEqual([[3, 'invalid'], [5, 'invalid'], [6, 'invalid'], [7, 'invalid'], [8, 'invalid'], [11, 'invalid']]);
    expect(issues[0]?.reason).toMatch(/invalid email "not-an-email"/);
    expect(issues[1]?.reason).toBe('malformed CSV: a quoted field (column 2) is not closed on this line');
    expect(issues[2]?.reason).toMatch(/invalid email "Smith""/);
    expect(issues[3]?.reason).toMatch(/unknown newsletter "atlantis"/);
    expect(issues[4]?.reason).toBe('no email address');
    expect(issues[5]?.reason).toMatch(/invalid name "G+…" \(is too long/);
    expect(await runtime.subscribers.findByEmail('frank@example.com')).toMatchObject({ name: 'Fr"ank' });
    expect(await runtime.subscribers.findByEmail('ada@example.com')).toMatchObject({ name: 'Ada', status: 'confirmed', newsletters: ['national', 'london', 'scotland'] });
    expect(await runtime.subscribers.findByEmail('eve@example.com')).toMatchObject({ name: 'Eve "Q" Jones', newsletters: ['national', 'yorkshire'] });
    const ada = (await runtime.subscribers.findIdByEmail('ada@example.com')) as string;
    expect(await runtime.subscribers.consent(ada)).toEqual([
      expect.objectContaining({ action: 'given', newsletters: ['national', 'london'], form: 'import:mixed.csv' }),
      expect.objectContaining({ action: 'given', newsletters: ['scotland'] }),
    ]);
    expect(await runtime.subscribers.pageMembers('london', 0, 100)).toEqual([ada]);
  });

  /** 100 data rows, row i (1-based) on file line i + 1, with what `bad` puts in place of some rows. */
  function hundredRows(tag: string, bad: Record<number, string> = {}, eol: (i: number) => string = () => '\n'): string {
    let text = `email,name${eol(0)}`;
    for (let i = 1; i <= 100; i++) text += `${bad[i] ?? `${tag}-${i}@example.com,Reader ${i}`}${eol(i)}`;
    return text;
  }

  test('an unbalanced quote costs its own line only: the rows after it are imported', async () => {
    const file = writeCsv('quote.csv', hundredRows('quote', { 51: 'quote-51@example.com,"Unclosed name' }));
    const issues: ImportIssue[] = [];
    const report = await importCsv({ ...base(), file, confirmed: true, onIssue: (i) => issues.push(i) });
    expect(report).toMatchObject({ rows: 100, created: 99, invalid: 1 });
    expect(issues).toEqual([{ line: 52, kind: 'invalid', reason: 'malformed CSV: a quoted field (column 2) is not closed on this line' }]);
    expect(await runtime.subscribers.findByEmail('quote-52@example.com')).toMatchObject({ name: 'Reader 52' });
    expect(await runtime.subscribers.findByEmail('quote-100@example.com')).toMatchObject({ name: 'Reader 100' });
  });

  test('a 10 MB field is one bad line, reported once, and the row count stays true', async () => {
    const file = writeCsv('huge.csv', hundredRows('huge', { 52: `huge-52@example.com,${'x'.repeat(10 * 1024 * 1024)}` }));
    const issues: ImportIssue[] = [];
    const report = await importCsv({ ...base(), file, confirmed: true, onIssue: (i) => issues.push(i) });
    expect(report).toMatchObject({ rows: 100, created: 99, invalid: 1 });
    expect(issues).toEqual([{ line: 53, kind: 'invalid', reason: 'line is longer than 65,536 bytes' }]);
    expect(await runtime.subscribers.findByEmail('huge-53@example.com')).toMatchObject({ name: 'Reader 53' });
  });

  test('CR, LF and CRLF line ends are alike, even mixed in one file', async () => {
    const ends = ['\n', '\r\n', '\r'];
    const file = writeCsv('mixed-eol.csv', hundredRows('eol', {}, (i) => ends[i % 3] as string));
    const issues: ImportIssue[] = [];
    const report = await importCsv({ ...base(), file, confirmed: true, onIssue: (i) => issues.push(i) });
    expect(issues).toEqual([]);
    expect(report).toMatchObject({ rows: 100, created: 100, invalid: 0 });
    for (const i of [1, 33, 34, 99, 100]) expect(await runtime.subscribers.findByEmail(`eol-${i}@example.com`)).toMatchObject({ name: `Reader ${i}` });
    // A blank line made of "\n\r" counts as a line for the numbering, and is not a row.
    const gaps = writeCsv('gaps.csv', 'email\r\n\n\rnot-an-address\r\n');
    const gapIssues: ImportIssue[] = [];
    expect(await importCsv({ ...base(), file: gaps, confirmed: true, onIssue: (i) => gapIssues.push(i) })).toMatchObject({ rows: 1, invalid: 1 });
    expect(gapIssues.map((i) => i.line)).toEqual([4]);
  });

  test('a file that is not UTF-8 is refused whole, naming the line of the first bad byte; --encoding latin1 reads it', async () => {
    const latin1 = path.join(__dirname, '..', 'fixtures', 'subscribers', 'latin1-names.csv');
    await expect(importCsv({ ...base(), file: latin1, confirmed: true })).rejects.toThrow(/latin1-names\.csv line 2: byte 0xEB is not valid UTF-8, so the file is not UTF-8 and nothing was imported\. .*--encoding latin1\.$/);
    expect(await runtime.subscribers.findByEmail('zoe@example.com')).toBeUndefined();
    // Invalid UTF-8 deep in a long file: still nothing imported, and the right line.
    const broken = writeCsv('broken-utf8.csv', '');
    fs.writeFileSync(broken, Buffer.concat([Buffer.from(hundredRows('broken').slice(0, 2000)), Buffer.from([0x0d, 0x0a, 0xc3, 0x28, 0x0a])]));
    const lineOfBad = hundredRows('broken').slice(0, 2000).split('\n').length + 1;
    await expect(importCsv({ ...base(), file: broken, confirmed: true })).rejects.toThrow(new RegExp(`line ${lineOfBad}: byte 0xC3 `));
    expect(await runtime.subscribers.findByEmail('broken-1@example.com')).toBeUndefined();

    const report = await importCsv({ ...base(), file: latin1, confirmed: true, encoding: 'latin1' });
    expect(report).toMatchObject({ rows: 2, created: 2, invalid: 0, encoding: 'latin1' });
    expect(await runtime.subscribers.findByEmail('zoe@example.com')).toMatchObject({ name: 'Zoë Brûlé' });
    expect(await runtime.subscribers.findByEmail('noel@example.com')).toMatchObject({ name: 'Noël Ætherling' });
    // A UTF-8 BOM is fine, and so is UTF-8 itself.
    const bom = writeCsv('bom.csv', '\uFEFFemail,name\nbom@example.com,Chloé 李\n');
    expect(await importCsv({ ...base(), file: bom, confirmed: true })).toMatchObject({ rows: 1, created: 1 });
    expect(await runtime.subscribers.findByEmail('bom@example.com')).toMatchObject({ name: 'Chloé 李' });
  });

  test('is safe to run twice: the second run changes nothing', async () => {
    const file = path.join(tmp, 'mixed.csv');
    // Our keys (BullMQ may add its queue metadata on its own schedule).
    const prefixKeys = async () => (await runtime.redis.keys(`${runtime.config.redisPrefix}:*`)).filter((k) => !k.includes(':bull:')).sort();
    const keysBefore = await prefixKeys();
    const ada = (await runtime.subscribers.findIdByEmail('ada@example.com')) as string;
    const historyBefore = (await runtime.subscribers.history(ada)).length;
    const report = await importCsv({ ...base(), file, confirmed: true });
    expect(report).toMatchObject({ created: 0, updated: 0, unchanged: 4, invalid: 6 });
    expect(await prefixKeys()).toEqual(keysBefore);
    expect(await runtime.subscribers.history(ada)).toHaveLength(historyBefore);
  });

  test('never re-subscribes a suppressed, unsubscribed or erased address', async () => {
    const eve = (await runtime.subscribers.findIdByEmail('eve@example.com')) as string;
    await runtime.subscribers.unsubscribe(eve, { reason: 'one-click' });
    await runtime.subscribers.suppress('bounced@example.com', { reason: 'hard bounce', source: 'test' });
    await runtime.subscribers.add({ email: 'erased@example.com', newsletters: ['national'], confirmed: true });
    await forgetReader(runtime, 'erased@example.com', { now: now(), source: 'test' });
    const file = writeCsv('comeback.csv', 'email,name\neve@example.com,Eve\nbounced@example.com,\nERASED@example.com,Back\nnew@example.com,New\n');
    const issues: ImportIssue[] = [];
    const report = await importCsv({ ...base(), file, confirmed: true, newsletters: ['national', 'midlands'], onIssue: (i) => issues.push(i) });
    expect(report).toMatchObject({ rows: 4, created: 1, unsubscribed: 1, suppressed: 2, invalid: 0 });
    expect(issues.sort((a, b) => a.line - b.line)).toEqual([
      { line: 2, kind: 'skipped', reason: expect.stringMatching(/^eve@example.com unsubscribed on \d{4}-\d\d-\d\d; not re-subscribed$/) },
      { line: 3, kind: 'skipped', reason: 'bounced@example.com is on the suppression list; not imported' },
      { line: 4, kind: 'skipped', reason: 'ERASED@example.com is on the suppression list; not imported' },
    ]);
    expect(await runtime.subscribers.get(eve)).toMatchObject({ status: 'unsubscribed', newsletters: [] });
    expect(await runtime.subscribers.findByEmail('erased@example.com')).toBeUndefined();
    expect(await runtime.subscribers.findByEmail('new@example.com')).toMatchObject({ newsletters: ['national', 'midlands'], status: 'confirmed' });
  });

  test('pending import: rows wait for their own confirmation, and are counted as pending', async () => {
    const file = writeCsv('pending.csv', 'email\npend-1@example.com\npend-2@example.com\n');
    const report = await importCsv({ ...base(), file, confirmed: false, newsletters: ['scotland'] });
    expect(report.created).toBe(2);
    expect((await runtime.subscribers.counts(['scotland'])).scotland).toMatchObject({ pending: 2 });
    expect(await runtime.subscribers.pageMembers('scotland', 0, 100)).not.toContain(await runtime.subscribers.findIdByEmail('pend-1@example.com'));
  });

  test('export is formula-safe and round-trips through import', async () => {
    await runtime.subscribers.add({ email: 'formula@example.com', name: '=HYPERLINK("http://evil.example","click")', newsletters: ['national'], confirmed: true });
    await runtime.subscribers.add({ email: 'plus@example.com', name: '+44 Trader', newsletters: ['national'], confirmed: true });
    await runtime.subscribers.add({ email: 'at@example.com', name: '@Handle, "quoted"', newsletters: ['london'], confirmed: true });
    const text = await exportToString(runtime);
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0] as object)).toEqual(['id', 'email', 'name', 'status', 'newsletters', 'created_at', 'confirmed_at', 'updated_at', 'source', 'timezone']);
    // Ordered by id, everyone (any status).
    expect(rows.map((r) => Number(r.id))).toEqual([...rows.map((r) => Number(r.id))].sort((a, b) => a - b));
    expect(rows.some((r) => r.status === 'unsubscribed')).toBe(true);
    const byEmail = new Map(rows.map((r) => [r.email, r]));
    expect(byEmail.get('formula@example.com')?.name).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(byEmail.get('plus@example.com')?.name).toBe("'+44 Trader");
    expect(byEmail.get('at@example.com')?.name).toBe('\'@Handle, "quoted"');
    for (const row of rows) for (const value of Object.values(row)) expect(value).not.toMatch(/^[=+\-@\t\r]/);

    const london = parse(await exportToString(runtime, 'london'), { columns: true }) as Array<Record<string, string>>;
    expect(london.map((r) => r.email).sort()).toEqual(['ada@example.com', 'at@example.com']);

    // Into a fresh prefix: the names come back as they were.
    const other = testRuntime(testConfig(uniquePrefix('csv-roundtrip')));
    try {
      const file = writeCsv('roundtrip.csv', text);
      const report = await importCsv({ ...base(), store: other.subscribers, file, confirmed: true });
      expect(report.invalid).toBe(0);
      expect((await other.subscribers.findByEmail('formula@example.com'))?.name).toBe('=HYPERLINK("http://evil.example","click")');
      expect((await other.subscribers.findByEmail('at@example.com'))?.name).toBe('@Handle, "quoted"');
    } finally {
      await closeRuntime(other);
    }
    expect(safeCell('-1')).toBe("'-1");
    expect(unescapeCell("'=1")).toBe('=1');
    expect(unescapeCell("'ok")).toBe("'ok");
  });

  test('a file-level problem is one clear error, nothing imported', async () => {
    await expect(importCsv({ ...base(), file: writeCsv('noheader.csv', 'ada@example.com,Ada\n'), confirmed: true })).rejects.toThrow(/no email column in the header/);
    await expect(importCsv({ ...base(), file: writeCsv('empty.csv', ''), confirmed: true })).rejects.toThrow(/is empty/);
    await expect(importCsv({ ...base(), file: path.join(tmp, 'missing.csv'), confirmed: true })).rejects.toThrow(/cannot read .*ENOENT/);
  });

  test('the CLI: import, show, export, remove, forget, as ops run them', async () => {
    const prefix = uniquePrefix('csv-cli');
    const cliRuntime = testRuntime(testConfig(prefix));
    const env = { DAYBREAK_CONFIG: writeConfigFile(cliRuntime.config) };
    try {
      const file = writeCsv('cli.csv', 'email,name,newsletters\nops-1@example.com,One,national\nbroken,Two,\nops-3@example.com,Three,london;national\n');
      const first = await daybreak(['subscribers', 'import', file, '--confirmed'], env);
      expect(first.code).toBe(1); // some rows were bad
      expect(first.stderr).toContain('cli.csv: line 3: invalid email "broken"');
      expect(first.stdout).toMatch(/3 rows: 2 new, 0 updated, 0 unchanged/);
      const second = await daybreak(['subscribers', 'import', file, '--confirmed', '--quiet'], env);
      expect(second.stdout).toMatch(/3 rows: 0 new, 0 updated, 2 unchanged/);
      expect(second.stderr).toBe('');

      const show = await daybreak(['subscribers', 'show', 'OPS-3@example.com'], env);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/Subscriber \d+ <ops-3@example.com>/);
      expect(show.stdout).toContain('newsletters:  London, National');
      expect(show.stdout).toMatch(/Consent:\n .* given +London, National +\(form import:cli\.csv\)/);
      const json = JSON.parse((await daybreak(['subscribers', 'show', 'ops-3@example.com', '--json'], env)).stdout) as { subscriber: { status: string }; history: unknown[] };
      expect(json.subscriber.status).toBe('confirmed');

      const out = path.join(tmp, 'out.csv');
      const exported = await daybreak(['subscribers', 'export', '--newsletter', 'national', '--out', out], env);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toContain('Exported 2 subscribers');
      expect((fs.statSync(out).mode & 0o777).toString(8)).toBe('600');
      expect(fs.readFileSync(out, 'utf8').split('\n')[0]).toBe('id,email,name,status,newsletters,created_at,confirmed_at,updated_at,source,timezone');
      const stdout = await daybreak(['subscribers', 'export'], env);
      expect(stdout.stdout.trim().split('\n')).toHaveLength(3);

      const removed = await daybreak(['subscribers', 'remove', 'ops-1@example.com'], env);
      expect(removed.stdout).toMatch(/Unsubscribed ops-1@example.com/);
      expect((await cliRuntime.subscribers.findByEmail('ops-1@example.com'))?.status).toBe('unsubscribed');

      const forgotten = await daybreak(['subscribers', 'forget', 'ops-3@example.com'], env);
      expect(forgotten.stdout).toMatch(/Erased subscriber \d+/);
      const gone = await daybreak(['subscribers', 'show', 'ops-3@example.com'], env);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/No subscriber ops-3@example.com \(the address is suppressed: erased/);
      const third = await daybreak(['subscribers', 'import', file, '--confirmed', '--quiet'], env);
      expect(third.stdout).toMatch(/skipped: 1 suppressed, 1 unsubscribed/);

      const counts = await daybreak(['subscribers', 'counts'], env);
      expect(counts.stdout).toMatch(/National +0 +0 +1/);

      const latin1 = path.join(__dirname, '..', 'fixtures', 'subscribers', 'latin1-names.csv');
      const refused = await daybreak(['subscribers', 'import', latin1], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(/latin1-names\.csv line 2: byte 0xEB is not valid UTF-8/);
      const converted = await daybreak(['subscribers', 'import', latin1, '--encoding', 'latin1', '--newsletter', 'scotland'], env);
      expect(converted.code).toBe(0);
      expect(converted.stdout).toContain('read as Latin-1 (ISO-8859-1), as --encoding latin1 asked');
      expect(converted.stdout).toMatch(/2 rows: 2 new/);

      const bad = await daybreak(['subscribers', 'import', file, '--newsletter', 'atlantis'], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('Unknown newsletter "atlantis"');
    } finally {
      await closeRuntime(cliRuntime);
    }
  });
});
