import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runtime } from '../../src/delivery/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { runCli } from '../helpers/cli';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';


const daybreak = (args: string[], env: Record<string, string> = {}) => runCli(args, { LOG_LEVEL: 'error', ...env });

describe('the daybreak command', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    sink = await startSmtpSink({ refuse: (address) => (address === 'refused@example.com' ? { code: 550, message: '5.1.1 <refused@example.com>: user unknown' } : undefined) });
    // Past days, so each edition's cut-off is that morning's slot whatever the real clock says.
    const config = testConfig(uniquePrefix('cli'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(writeTestFeed(['2026-11-10', '2026-11-11'])), delivery: { attempts: 1 } });
    env = { DAYBREAK_CONFIG: writeConfigFile(config) };
    runtime = testRuntime(config);
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('subscribers add puts a confirmed reader on the list, and refuses a bad address', async () => {
    const added = await daybreak(['subscribers', 'add', 'Ops.Added@Example.com', '--name', 'Olu Ade'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/Added subscriber \d+ <ops.added@example.com>: confirmed, newsletters national/);
    await daybreak(['subscribers', 'add', 'second@example.com'], env);
    const bad = await daybreak(['subscribers', 'add', 'not-an-address'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a valid email address');
  });

  test('run-edition --dry-run shows the picks and sends nothing', async () => {
    const dry = await daybreak(['run-edition', 'national', '--date', '2026-11-10', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run of national-2026-11-10');
    expect(dry.stdout).toContain('Story 1 for 2026-11-10');
    expect(dry.stdout).toContain('Would go to up to 2 confirmed subscriber(s)');
    expect(sink.messages).toHaveLength(0);
    expect(await runtime.editions.get('national-2026-11-10')).toBeUndefined();
  });

  test('run-edition sends the day, and run twice sends nothing new and says so', async () => {
    const first = await daybreak(['run-edition', 'national', '--date', '2026-11-10'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Edition national-2026-11-10 (national, 2026-11-10): done');
    expect(first.stdout).toContain('No workers were running, so this command ran its own.');
    expect(first.stdout).toMatch(/Articles picked \(8\)/);
    expect(first.stdout).toContain('Messages: 2 sent, 0 failed, 0 skipped, 0 pending, of 2');
    expect(sink.messages.flatMap((m) => m.recipients).sort()).toEqual(['ops.added@example.com', 'second@example.com']);
    const again = await daybreak(['run-edition', 'national', '--date', '2026-11-10'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing new to send.');
    expect(sink.messages).toHaveLength(2);
  });

  test('preview writes the HTML an editor would see, and lists the stories in the order the email shows them', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-preview-')), 'preview.html');
    const result = await daybreak(['preview', 'national', '--date', '2026-11-10', '--out', out], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Subject: National: Tuesday 10 November 2026');
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('Story 1 for 2026-11-10');
    expect(html).not.toContain('%%slot:');
    // "Story 3" in the list is the third story a reader meets in the email.
    const listed = [...result.stdout.matchAll(/^\s+\d+\. (Story \d+) for/gm)].map((m) => m[1]);
    const inEmail = [...html.matchAll(/(Story \d+) for 2026-11-10/g)].map((m) => m[1]).filter((t, i, all) => all.indexOf(t) === i);
    expect(listed).toHaveLength(8);
    expect(listed).toEqual(inEmail);
  });

  test('run-edition off a terminal prints progress lines, and says how to resend what failed', async () => {
    await daybreak(['subscribers', 'add', 'refused@example.com'], env);
    const result = await daybreak(['run-edition', 'national', '--date', '2026-11-11'], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z national-2026-11-11 \w+: \d+\/\d+ settled, \d+ sent, \d+ failed/m);
    expect(result.stdout).toContain('Messages: 2 sent, 1 failed, 0 skipped, 0 pending, of 3');
    expect(result.stdout).toContain('Next: `daybreak resend national-2026-11-11 --failed --dry-run` lists the 1 failed send(s)');
  });

  test('failures exit non-zero with a message a person can act on', async () => {
    const badDate = await daybreak(['run-edition', 'national', '--date', '10/11/2026'], env);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('--date must be a calendar date like 2026-11-24');
    const unknown = await daybreak(['run-edition', 'weekly'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown newsletter "weekly"; configured: national');
    const noRedis = await daybreak(['run-edition', 'national'], { ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(noRedis.code).toBe(3);
    expect(noRedis.stderr).toContain('Cannot reach Redis at redis://127.0.0.1:1');
    const badConfig = await daybreak(['run-edition', 'national'], { DAYBREAK_CONFIG: '/nonexistent.json' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('Cannot read configuration /nonexistent.json: file not found');
  });

  test('--help on every command', async () => {
    for (const args of [['--help'], ['run-edition', '--help'], ['preview', '--help'], ['subscribers', 'add', '--help'], ['worker', '--help'], ['start', '--help'], ['scheduler', '--help'], ['demo', '--help']]) {
      const result = await daybreak(args, env);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: daybreak');
    }
  });
});
