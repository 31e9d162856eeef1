/** One place that decides how Daybreak talks to Redis, and what a person sees when it is down. */
import Redis, { type RedisOptions } from 'ioredis';
import { DaybreakError } from './errors';

/** Where a lost connection is reported: once when it goes, once when it is back. */
export interface ConnectionReporter {
  warn(detail: Record<string, unknown>, message: string): void;
  info(detail: Record<string, unknown>, message: string): void;
}

/** Hides the password in a redis:// URL for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export function createRedis(url: string, options: RedisOptions = {}, reporter?: ConnectionReporter): Redis {
  const client = new Redis(url, {
    // BullMQ's blocking connections need this; our own commands are fine with it too.
    maxRetriesPerRequest: null,
    // Off: measured 15% slower sends with it on, since BullMQ already batches what it can (docs/performance.md).
    enableAutoPipelining: false,
    lazyConnect: false,
    ...options,
  });
  // Without a listener ioredis prints every failed reconnect as a stack trace (dozens a second
  // during an outage). One line when Redis goes, one when it is back; ioredis keeps retrying.
  let down = false;
  client.on('error', (error: Error & { code?: string }) => {
    if (down) return;
    down = true;
    const message = `Redis at ${redactRedisUrl(url)} is unreachable (${error.code ?? error.message}); retrying until it answers`;
    if (reporter) reporter.warn({ err: error.message }, message);
    else process.stderr.write(`daybreak: ${message}\n`);
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    const message = `Redis at ${redactRedisUrl(url)} answers again`;
    if (reporter) reporter.info({}, message);
    else process.stderr.write(`daybreak: ${message}\n`);
  });
  return client;
}

/** Fails fast with an actionable message when Redis is down, instead of hanging on retries. */
export async function assertRedisReachable(url: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new DaybreakError('redis-unreachable', `Cannot reach Redis at ${redactRedisUrl(url)} (${(error as Error).message}). Start one (e.g. \`redis-server\`, or \`apt-get install -y redis-server\`) or set REDIS_URL.`, { cause: error });
  } finally {
    probe.disconnect();
  }
}
