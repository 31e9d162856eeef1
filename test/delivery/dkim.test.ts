import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { FixedClock } from '../../src/core/clock';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/delivery/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

describe('DKIM signing', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  beforeAll(async () => {
    sink = await startSmtpSink();
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-dkim-')), 'dkim.pem');
    fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const config = testConfig(uniquePrefix('dkim'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])),
      delivery: { concurrency: 5, smtpMaxConnections: 2, attempts: 2, backoffMs: 50, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000, dkim: { domainName: 'daybreak.example', keySelector: 'morning', privateKeyPath: keyFile } },
    });
    runtime = testRuntime(config, { clock: new FixedClock('2026-11-24T06:00:00Z') });
    await runtime.subscribers.add({ email: 'signed@example.com', name: 'Sam Signed', newsletters: ['national'], confirmed: true });
  });

  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('every message carries a DKIM signature that verifies against the published key', async () => {
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition.sent).toBe(1);
    const raw = sink.messages[0].raw;
    expect(raw.toString('latin1')).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256;/m);
    // The DNS answer a receiver would get for morning._domainkey.daybreak.example, served locally.
    const resolver = async (name: string, type: string) => {
      if (name === 'morning._domainkey.daybreak.example' && type === 'TXT') return [[`v=DKIM1; k=rsa; p=${publicKeyBase64}`]];
      throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    };
    const verdict = await dkimVerify(raw, { resolver });
    expect(verdict.results).toHaveLength(1);
    expect(verdict.results[0].signingDomain).toBe('daybreak.example');
    expect(verdict.results[0].status.result).toBe('pass');
  });
});
