import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BouncePolicy } from '../../src/bounces/policy';
import type { Runtime } from '../../src/app/runtime';
import { runCli } from '../helpers/cli';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { corpus } from '../helpers/corpus';

const { dir: sisimai, test: testWithCorpus } = corpus('bounces/sisimai', 'expected.jsonl');
const fixtures = path.resolve(__dirname, '..', 'fixtures', 'bounces');

const daybreak = (args: string[], env: Record<string, string> = {}) => runCli(args, { LOG_LEVEL: 'error', ...env });

describe('daybreak suppress, unsuppress and bounces', () => {
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('bounce-cli'));
    env = { DAYBREAK_CONFIG: writeConfigFile(config) };
    runtime = testRuntime(config);
    await runtime.subscribers.add({ email: 'reader@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
  });

  test('suppress keeps the reason; unsuppress removes it and says what it was; bad input is refused', async () => {
    const s = await daybreak(['suppress', 'Reader@Example.com', '--reason', 'asked by phone'], env);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('Suppressed reader@example.com: asked by phone.');
    expect(await runtime.subscribers.suppression('reader@example.com')).toMatchObject({ reason: 'asked by phone', source: 'cli' });
    const u = await daybreak(['unsuppress', 'reader@example.com'], env);
    expect(u.code).toBe(0);
    expect(u.stdout).toContain('was: asked by phone, cli');
    expect(await runtime.subscribers.isSuppressed('reader@example.com')).toBe(false);
    const again = await daybreak(['unsuppress', 'reader@example.com'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not on the suppression list');
    expect((await daybreak(['suppress', 'not an address'], env)).code).toBe(2);
  });

  test('bounces reports counts and addresses from the log', async () => {
    await new BouncePolicy(runtime).record({ id: 'mailgun:cli-1', source: 'mailgun', kind: 'hard', email: 'reader@example.com', hints: { verpAddresses: [], messageIds: [] }, status: '5.1.1', replyCode: 550, diagnostic: '550 5.1.1 no such user', reason: 'userunknown', at: new Date() });
    const r = await daybreak(['bounces', '--since', '1d'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/hard\s+1 event\(s\),\s+1 address\(es\)/);
    expect(r.stdout).toContain('reader@example.com');
    expect(r.stdout).toContain('-> suppressed');
    const json = JSON.parse((await daybreak(['bounces', '--json'], env)).stdout) as { counts: { hard: number } };
    expect(json.counts.hard).toBe(1);
    expect((await daybreak(['bounces', '--since', 'last tuesday'], env)).code).toBe(2);
  });

  testWithCorpus('bounces parse prints one JSON line per message', async () => {
    const files = ['lhost-postfix-04.eml', 'rfc3834-01.eml', 'arf-01.eml'].map((f) => path.join(sisimai, f));
    const r = await daybreak(['bounces', 'parse', ...files], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { bounce: boolean; kind: string; recipients: Array<{ recipient: string; status: string | null }> });
    expect(lines.map((l) => [l.bounce, l.kind])).toEqual([[true, 'hard'], [false, 'auto-reply'], [true, 'complaint']]);
    expect(lines[0]?.recipients[0]).toMatchObject({ recipient: 'kijitora@example.co.jp', status: '5.1.1' });
  });

  test('bounces parse gives every file its own line: one the MIME splitter refuses gets an error line, the batch goes on, exit 1', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-bounces-parse-'));
    try {
      const nested = ['From: MAILER-DAEMON@mx.example.net', 'Content-Type: multipart/mixed; boundary="b0"', ''];
      for (let i = 0; i < 300; i++) nested.push(`--b${i}`, `Content-Type: multipart/mixed; boundary="b${i + 1}"`, '');
      fs.writeFileSync(path.join(dir, 'too-many-parts.eml'), nested.join('\r\n'));
      fs.writeFileSync(path.join(dir, 'huge-header.eml'), `From: MAILER-DAEMON@mx.example.net\r\nX-Filler: ${'a'.repeat(300_000)}\r\n\r\nbody\r\n`);
      const files = [path.join(fixtures, 'original-and-final-recipient.eml'), path.join(dir, 'too-many-parts.eml'), path.join(dir, 'missing.eml'), path.join(dir, 'huge-header.eml'), path.join(fixtures, 'local-parts-only.eml')];
      const r = await daybreak(['bounces', 'parse', ...files], env);
      expect(r.code).toBe(1);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; error?: string; code?: string; kind?: string; recipients?: Array<Record<string, unknown>> });
      expect(lines.map((l) => [path.basename(l.file), l.code ?? l.kind])).toEqual([
        ['original-and-final-recipient.eml', 'soft'], ['too-many-parts.eml', 'mime-structure'], ['missing.eml', 'unreadable'], ['huge-header.eml', 'mime-structure'], ['local-parts-only.eml', 'soft'],
      ]);
      expect(lines[1]?.error).toMatch(/child nodes.*read this one by hand/);
      expect(lines[0]?.recipients?.[0]).toMatchObject({ recipient: 'a.berg@example.org', finalRecipient: 'anna.berg@example.org', attribution: 'dsn' });
      const ok = await daybreak(['bounces', 'parse', path.join(fixtures, 'quoted-address.eml')], env);
      expect(ok.code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
