/** Before the run: a Redis for the tests, and a run id that marks every process the tests start. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisAnswers, startPrivateRedis } from '../../src/core/redis-server';

/**
 * Integration tests need a real Redis. Use the one at REDIS_URL (default 127.0.0.1:6379);
 * when none answers, start a private redis-server for the run. process.env set here reaches
 * every test worker, which jest starts afterwards, and every process they start: the teardown
 * finds leftovers by DAYBREAK_TEST_RUN in their environment.
 */
export default async function globalSetup(): Promise<void> {
  process.env.DAYBREAK_TEST_RUN = crypto.randomBytes(6).toString('hex');
  const skips = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-test-run-')), 'skipped.jsonl');
  fs.writeFileSync(skips, '');
  process.env.DAYBREAK_TEST_SKIPS = skips;
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  const redis = await startPrivateRedis();
  process.env.REDIS_URL = redis.url;
  (globalThis as { __daybreakRedis?: typeof redis }).__daybreakRedis = redis;
  console.log(`\n[tests] no Redis at ${url}; started a private redis-server at ${redis.url}`);
}
