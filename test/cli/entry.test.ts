import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { corpus } from '../helpers/corpus';
import { bin, runCli, runCommand, type CliRun } from '../helpers/cli';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import type { Runtime } from '../../src/app/runtime';

const root = path.join(__dirname, '..', '..');

/** Runs a command line as a person or cron would type it, in the clone. */
const sh = (command: string, args: string[], env: Record<string, string>, cwd = root): Promise<CliRun> => runCommand(command, args, { env, cwd });

describe('the daybreak command as users reach it', () => {
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('entry'));
    env = { DAYBREAK_CONFIG: writeConfigFile(config) };
    runtime = testRuntime(config);
  });
  afterAll(async () => {
    await closeRuntime(runtime);
  });

  test('`npx daybreak` in a clone runs the command (it used to print nothing and exit 0)', async () => {
    const help = await sh('npx', ['--no-install', 'daybreak', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: daybreak');
    const editions = await sh('npx', ['--no-install', 'daybreak', 'editions'], env);
    expect(editions.code).toBe(0);
    expect(editions.stdout).toContain('No editions yet');
    // A failure through npx keeps its exit status: cron sees it.
    const unknown = await sh('npx', ['--no-install', 'daybreak', 'run-edition', 'atlantis'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown newsletter "atlantis"');
  });

  test('a symlinked bin (npm link, a global install, /usr/local/bin in the image) runs the command', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-bin-'));
    const link = path.join(dir, 'daybreak');
    fs.symlinkSync(bin, link);
    // Through a second link too, as npm's global .bin links to a package link.
    const outer = path.join(dir, 'outer');
    fs.mkdirSync(outer);
    fs.symlinkSync(link, path.join(outer, 'daybreak'));
    for (const entry of [link, path.join(outer, 'daybreak')]) {
      const result = await sh(entry, ['status', 'nope'], env, os.tmpdir());
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('No edition "nope"');
    }
    const viaPath = await sh('daybreak', ['--help'], { ...env, PATH: `${outer}${path.delimiter}${process.env.PATH ?? ''}` }, os.tmpdir());
    expect(viaPath.code).toBe(0);
    expect(viaPath.stdout).toContain('Usage: daybreak');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('output piped into another program arrives whole, past 64 KB (stdout is drained before exit)', async () => {
    // 1,500 subscribers export to ~100 KB of CSV on stdout.
    for (let i = 0; i < 1500; i++) {
      await runtime.subscribers.importRow({ email: `piped-reader-${i}@example.com`, name: `Piped Reader Number ${i} With A Long Name`, newsletters: ['national'], confirmed: true, source: 'test', form: 'import:test', consentText: 'test', now: new Date('2026-11-24T06:00:00Z') });
    }
    const result = await runCli(['subscribers', 'export'], env);
    expect(result.code).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeGreaterThan(64 * 1024);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1501);
    expect(lines[lines.length - 1]).toContain('piped-reader-1499@example.com');
  });

  test('a person\'s mistakes end in one line and the documented exit status, never a stack trace', async () => {
    const cases: Array<{ args: string[]; code: number; says: string; env?: Record<string, string> }> = [
      { args: ['run-edition', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['preview', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['test-send', 'atlantis', '--to', 'a@example.com'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['editions', '--newsletter', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['subscribers', 'add', 'x@example.com', '--newsletter', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['subscribers', 'import', '/nonexistent/file.csv', '--newsletter', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['subscribers', 'export', '--newsletter', 'atlantis'], code: 2, says: 'Unknown newsletter "atlantis"' },
      { args: ['subscribers', 'export', '--out', '/missing/dir/x.csv'], code: 2, says: 'Cannot write the export to /missing/dir/x.csv: the folder /missing/dir does not exist' },
      { args: ['preview', 'national', '--out', '/missing/dir/x.html'], code: 2, says: 'Cannot write --out to /missing/dir/x.html: the folder /missing/dir does not exist' },
      { args: ['status', 'national-2031-01-01'], code: 1, says: 'No edition "national-2031-01-01"' },
      { args: ['editions'], code: 3, says: 'Cannot reach Redis at redis://127.0.0.1:1', env: { REDIS_URL: 'redis://127.0.0.1:1' } },
      { args: ['editions', '--limit', 'many'], code: 2, says: '--limit must be a whole number' },
      { args: ['editions'], code: 2, says: 'Cannot read configuration /nonexistent.json: file not found', env: { DAYBREAK_CONFIG: '/nonexistent.json' } },
    ];
    for (const c of cases) {
      const result = await runCli(c.args, { ...env, ...c.env });
      expect({ args: c.args, code: result.code }).toEqual({ args: c.args, code: c.code });
      expect(result.stderr).toContain(c.says);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  test('a malformed feed is one line naming the source, exit 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-badfeed-'));
    const feed = path.join(dir, 'feed.xml');
    fs.writeFileSync(feed, '<rss><channel><item><title>unclosed');
    const config = testConfig(uniquePrefix('entry-feed'), { newsletters: JSON.parse(fs.readFileSync(path.join(root, 'config', 'daybreak.json'), 'utf8')).newsletters.map((n: { id: string }) => (n.id === 'national' ? { ...n, source: { file: feed } } : n)) });
    const result = await runCli(['preview', 'national'], { DAYBREAK_CONFIG: writeConfigFile(config) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`feed file ${feed}`);
    expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('missing real-world data', () => {
  test('a missing corpus fails the suite under CI=true, and is reported (not silent) otherwise', () => {
    const ci = process.env.CI;
    const skips = process.env.DAYBREAK_TEST_SKIPS;
    const own = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-skips-')), 'skipped.jsonl');
    try {
      process.env.CI = 'true';
      expect(() => corpus('no-such-corpus-here')).toThrow(/corpus the tests need is missing and CI=true/);
      process.env.CI = 'false';
      process.env.DAYBREAK_TEST_SKIPS = own;
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const skipped = corpus('no-such-corpus-here');
      expect(skipped.present).toBe(false);
      // Said at once, in the suite's output…
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('SKIPPED: /'));
      warn.mockRestore();
      // …and recorded for the run's closing summary, with the suite and the reason.
      const record = JSON.parse(fs.readFileSync(own, 'utf8').trim()) as { suite: string; reason: string };
      expect(record.suite).toBe(path.join('test', 'cli', 'entry.test.ts'));
      expect(record.reason).toContain('no-such-corpus-here');
    } finally {
      process.env.CI = ci;
      process.env.DAYBREAK_TEST_SKIPS = skips;
      fs.rmSync(path.dirname(own), { recursive: true, force: true });
    }
  });
});
