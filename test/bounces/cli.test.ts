import fs from 'node:fs';
import path from 'node:path';
import { BouncePolicy } from '../../src/bounces/policy';
import type { Runtime } from '../../src/app/runtime';
import { runCli } from '../helpers/cli';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { corpus } from '../helpers/corpus';

const { dir: sisimai, test: testWithCorpus } = corpus('bounces/sisimai', 'expected.jsonl');

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
    await new BouncePolicy(runtime).record({ id: 'mailgun:cli-1', source: 'mailgun', kind: 'hard', email: 'reader@example.com', status: '5.1.1', replyCode: 550, diagnostic: '550 5.1.1 no such user', reason: 'userunknown', at: new Date() });
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
});
