import type { PrivateRedis } from '../../src/core/redis-server';

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as { __daybreakRedis?: PrivateRedis }).__daybreakRedis;
  if (redis) await redis.stop();
}
