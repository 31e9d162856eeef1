import { redisAnswers, startPrivateRedis } from '../../src/core/redis-server';

/**
 * Integration tests need a real Redis. Use the one at REDIS_URL (default 127.0.0.1:6379);
 * when none answers, start a private redis-server for the run. process.env set here reaches
 * every test worker, which jest starts afterwards.
 */
export default async function globalSetup(): Promise<void> {
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
