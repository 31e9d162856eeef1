/** Owner of the rate-limit counters: fixed windows in Redis shared by every web process. */
import { isIPv6 } from 'node:net';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { LuaScript } from '../core/lua-script';

export interface RateRule {
  limit: number;
  windowSeconds: number;
}

export interface RateDecision {
  allowed: boolean;
  count: number;
  limit: number;
  /** Seconds until the window resets (for Retry-After). */
  retryAfterSeconds: number;
}

/** INCR and start the window on the first hit, atomically. KEYS: counter. ARGV: window ms. Returns {count, pttl}. */
const hitScript = new LuaScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`);

/**
 * Fixed-window counters in Redis, shared by every web process: each key counts hits in a window
 * that starts with its first hit. Simple, one round trip, and the burst at a window edge (at most
 * twice the limit) does not matter for sign-up abuse.
 */
export class RateLimiter {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  async hit(scope: string, subject: string, rule: RateRule): Promise<RateDecision> {
    const windowMs = rule.windowSeconds * 1000;
    const [count, ttl] = (await hitScript.run(this.redis, [this.keys.rateLimit(scope, subject)], [windowMs])) as [number, number];
    return { allowed: count <= rule.limit, count, limit: rule.limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }
}

/**
 * The subject a per-IP limit counts: the address itself for IPv4, the /64 for IPv6 (one host
 * commonly holds a whole /64, so counting single v6 addresses would be no limit at all).
 */
export function ipSubject(ip: string): string {
  const bare = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  if (!isIPv6(bare)) return bare;
  const [head = '', tail = ''] = bare.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups = bare.includes('::') ? [...headParts, ...Array(8 - headParts.length - tailParts.length).fill('0'), ...tailParts] : headParts;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
