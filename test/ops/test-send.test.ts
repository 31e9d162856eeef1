import type { Runtime } from '../../src/app/runtime';
import { runEditionNow } from '../../src/ops/run-now';
import { testSend, TestSendError } from '../../src/ops/test-send';
import { closeRuntime, writeConfigFile } from '../helpers/runtime';
import { opsFixture, runCli, type OpsFixture } from './fixture';

/** Every key under the test's prefix with its type and content, to prove nothing was written. */
async function snapshot(runtime: Runtime): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const stream = runtime.redis.scanStream({ match: `${runtime.config.redisPrefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) {
    for (const key of keys) {
      // BullMQ's stalled-check key expires on its own; its job counters and lists are still compared.
      if (key.endsWith(':stalled-check')) continue;
      const type = await runtime.redis.type(key);
      const value = type === 'string' ? await runtime.redis.get(key)
        : type === 'hash' ? JSON.stringify(await runtime.redis.hgetall(key))
          : type === 'set' ? JSON.stringify((await runtime.redis.smembers(key)).sort())
            : type === 'zset' ? JSON.stringify(await runtime.redis.zrange(key, '0', '-1', 'WITHSCORES'))
              : type === 'list' ? JSON.stringify(await runtime.redis.lrange(key, 0, -1))
                : type;
      out.set(key, `${type}:${value}`);
    }
  }
  return out;
}

describe('test-send', () => {
  let f: OpsFixture;

  beforeAll(async () => {
    f = await opsFixture('test-send', { readers: 3 });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test("renders a day that has no edition yet, sends one [TEST] copy, and writes nothing at all", async () => {
    const before = await snapshot(f.runtime);
    const result = await testSend(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', to: 'Editor@Example.com' });
    expect(result).toMatchObject({ editionId: 'national-2026-11-24', to: 'editor@example.com', source: 'fresh' });
    expect(result.subject).toMatch(/^\[TEST\] National: Tuesday 24 November 2026$/);
    expect(await snapshot(f.runtime)).toEqual(before);
    expect(await f.runtime.editions.get('national-2026-11-24')).toBeUndefined();

    expect(f.sink.messages).toHaveLength(1);
    const message = f.sink.messages[0];
    expect(message?.recipients).toEqual(['editor@example.com']);
    const mail = await f.sink.parse(message!);
    expect(mail.subject).toBe(result.subject);
    expect(mail.text).toContain('Story 1 for 2026-11-24');
    expect(mail.text).toContain('Good morning');
    // Not a subscriber: the personal links lead to the page that explains the copy is not personal.
    expect(mail.text).toContain('http://daybreak.test/archive/personal-links');
    expect(mail.html).not.toContain('%%slot:');
    // Its Message-ID names no edition and no reader, so a bounce of it counts against nobody.
    expect(mail.messageId).toMatch(/^<test\.national-2026-11-24\.[A-Za-z0-9_-]+@daybreak\.example>$/);
  });

  test('after the edition went out, a test copy is exactly what readers got, and the edition is untouched', async () => {
    const run = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(run.edition.sent).toBe(3);
    const before = await snapshot(f.runtime);
    const sinkBefore = f.sink.messages.length;
    const result = await testSend(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', to: 'reader-2@example.com' });
    expect(result.source).toBe('stored');
    expect(result.subject).toBe(`[TEST] ${run.edition.subject}`);
    expect(result.articles).toBe(run.edition.articleIds.length);
    expect(await snapshot(f.runtime)).toEqual(before);
    const mail = await f.sink.parse(f.sink.messages[sinkBefore]!);
    const readerCopy = await f.sink.parse(f.sink.messages.find((m) => m.recipients[0] === 'reader-2@example.com')!);
    // A subscriber's test copy carries their own name and working links.
    expect(mail.text).toContain('Good morning, Reader');
    expect(mail.text).toContain('http://daybreak.test/unsubscribe/');
    // (html-to-text upper-cases the lead headline)
    for (const article of run.edition.articles) expect(mail.text?.toLowerCase()).toContain(article.title.toLowerCase());
    // The same, except that a test copy's story links go straight to the articles: its clicks count nowhere.
    let readerText = readerCopy.text ?? '';
    for (const article of run.edition.articles) {
      const redirect = f.runtime.signer.editionLinks.clickUrl(f.config.publicUrl, run.edition.id, article.id);
      expect(readerText).toContain(redirect);
      expect(mail.text).not.toContain(redirect);
      readerText = readerText.split(redirect).join(article.url);
    }
    expect(mail.text?.replace(/\/unsubscribe\/\S+|\/preferences\/\S+/g, '')).toBe(readerText.replace(/\/unsubscribe\/\S+|\/preferences\/\S+/g, ''));
  });

  test('refuses a suppressed address; through the binary it validates its input', async () => {
    await f.runtime.subscribers.suppress('bounced@example.com', { reason: 'hard bounce', source: 'test' });
    await expect(testSend(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', to: 'bounced@example.com' })).rejects.toThrow(TestSendError);
    const env = { DAYBREAK_CONFIG: writeConfigFile(f.config) };
    const ok = await runCli(['test-send', 'national', '--to', 'desk@example.com', '--date', '2026-11-24'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Test copy of national-2026-11-24 sent to desk@example.com');
    expect(ok.stdout).toContain('Subject:   [TEST] National: Tuesday 24 November 2026');
    expect(ok.stdout).toContain('Nothing was recorded');
    expect(f.sink.messages[f.sink.messages.length - 1]?.recipients).toEqual(['desk@example.com']);
    const badEmail = await runCli(['test-send', 'national', '--to', 'not an address'], env);
    expect(badEmail.code).toBe(2);
    expect(badEmail.stderr).toContain('--to "not an address"');
    const badNewsletter = await runCli(['test-send', 'nope', '--to', 'desk@example.com'], env);
    expect(badNewsletter.code).toBe(2);
    expect(badNewsletter.stderr).toContain('Unknown newsletter "nope"');
    const suppressed = await runCli(['test-send', 'national', '--to', 'bounced@example.com', '--date', '2026-11-24'], env);
    expect(suppressed.code).toBe(1);
    expect(suppressed.stderr).toContain('suppression list');
  });
});
