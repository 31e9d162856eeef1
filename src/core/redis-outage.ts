/** How long a command waits for Redis to come back: past a bound it gives up with one line (exit 3). */
import type Redis from 'ioredis';
import { DaybreakError } from './errors';
import { redactRedisUrl } from './redis';

export interface RedisOutageWatch {
  /** Rejects with a `redis-unreachable` error once Redis has been unreachable for longer than the limit. */
  readonly expired: Promise<never>;
  stop(): void;
}

/**
 * Watches a client's connection: when it has not been ready for `limitMs` in a row, `expired`
 * rejects (a command then ends instead of waiting for ever). Redis back in time resets the clock.
 */
export function watchRedisOutage(client: Redis, options: { limitMs: number; url: string; what?: string }): RedisOutageWatch {
  let downSince: number | undefined = client.status === 'ready' ? undefined : Date.now();
  let reject: (error: DaybreakError) => void = () => undefined;
  const expired = new Promise<never>((_, r) => { reject = r; });
  // Nobody may be listening yet (or ever, when it never fires): not an unhandled rejection.
  expired.catch(() => undefined);
  const down = () => { downSince ??= Date.now(); };
  const up = () => { downSince = undefined; };
  client.on('error', down);
  client.on('close', down);
  client.on('ready', up);
  const timer = setInterval(() => {
    if (downSince === undefined || Date.now() - downSince < options.limitMs) return;
    const seconds = Math.round(options.limitMs / 1000);
    reject(new DaybreakError('redis-unreachable', `Redis at ${redactRedisUrl(options.url)} has been unreachable for ${seconds} s; giving up (delivery.redisOutageLimitSeconds). ${options.what ?? 'What was queued carries on once Redis is back and a worker runs.'}`));
    stop();
  }, Math.min(1000, Math.max(50, options.limitMs / 10)));
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    client.off('error', down);
    client.off('close', down);
    client.off('ready', up);
  }
  return { expired, stop };
}
