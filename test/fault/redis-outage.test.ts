import type { Runtime } from '../../src/app/runtime';
import { runCli } from '../helpers/cli';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { startRestartableRedis, type RestartableRedis } from '../helpers/restartable-redis';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

/**
 * Redis goes away under `daybreak run-edition` (the real binary, on a private redis-server the
 * test stops and starts again on the same port with its data): one line says so, and the command
 * either carries on when Redis is back or, past delivery.redisOutageLimitSeconds, ends with one
 * line and exit status 3.
 */
const readers = 150;

describe('a Redis outage during run-edition', () => {
  let redis: RestartableRedis;
  let sink: SmtpSink;
  let runtime: Runtime;
  const env: Record<string, string> = {};
  const envShortLimit: Record<string, string> = {};

  beforeAll(async () => {
    redis = await startRestartableRedis();
    // Slow enough that the outage lands mid-edition.
    sink = await startSmtpSink({ dataDelayMs: 15 });
    const config = testConfig(uniquePrefix('redis-outage'), {
      redisUrl: redis.url,
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-23', '2026-11-24'])),
      delivery: { concurrency: 4, smtpMaxConnections: 2, backoffMs: 50, retryBackoffMaxMs: 500, fanoutPageSize: 50, lockDurationMs: 5000, stalledIntervalMs: 2000, redisOutageLimitSeconds: 30 },
    });
    // REDIS_URL (the tests' shared Redis) would override the file's: the command must use the private one.
    Object.assign(env, { DAYBREAK_CONFIG: writeConfigFile(config), REDIS_URL: redis.url });
    Object.assign(envShortLimit, { DAYBREAK_CONFIG: writeConfigFile({ ...config, delivery: { ...config.delivery, redisOutageLimitSeconds: 3 } }), REDIS_URL: redis.url });
    runtime = testRuntime(config);
    for (let i = 1; i <= readers; i++) await runtime.subscribers.add({ email: `reader-${i}@example.com`, newsletters: ['national'], confirmed: true, source: 'test' });
  });
  afterAll(async () => {
    await redis.start();
    await closeRuntime(runtime);
    await sink.close();
    await redis.close();
  });

  test('says once that Redis is unreachable and retried, then carries on when it is back: everybody once', async () => {
    const run = runCli(['run-edition', 'national', '--date', '2026-11-23'], env, 120_000);
    await sink.waitForCount(20, 60_000);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 4000));
    await redis.start();
    const result = await run;
    const output = `${result.stdout}${result.stderr}`;
    // One line for the outage (a log line: the command's logs are JSON off a terminal), no stack trace, no error lines.
    expect(output.split('\n').filter((l) => /is unreachable/.test(l))).toHaveLength(1);
    expect(output).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable \([A-Z]+\); retrying until it answers/);
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('"level":50');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Edition national-2026-11-23 (national, 2026-11-23): done');
    const recipients = sink.messages.flatMap((m) => m.recipients);
    expect(new Set(recipients).size).toBe(readers);
    expect(recipients).toHaveLength(readers);
  });

  test('gives up with one line and exit status 3 when Redis stays down past the limit', async () => {
    const before = sink.messages.length;
    const run = runCli(['run-edition', 'national', '--date', '2026-11-24'], envShortLimit, 120_000);
    await sink.waitForCount(before + 20, 60_000);
    await redis.stop();
    const result = await run;
    expect(result.code).toBe(3);
    const output = `${result.stdout}${result.stderr}`;
    expect(output).not.toMatch(/\n\s+at /);
    expect(output).not.toContain('"level":50');
    expect(output.split('\n').filter((l) => /is unreachable .*retrying until it answers/.test(l))).toHaveLength(1);
    // The command's last word, and its only line on stderr.
    expect(result.stderr).toMatch(/^daybreak: Redis at redis:\/\/127\.0\.0\.1:\d+ has been unreachable for 3 s; giving up \(delivery\.redisOutageLimitSeconds\)\. The edition carries on once Redis is back and a worker runs \(`daybreak status national-2026-11-24`\)\.\n$/);
  });
});
