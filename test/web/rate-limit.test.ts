import type { Runtime } from '../../src/app/runtime';
import { ipSubject, RateLimiter } from '../../src/web/rate-limit';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

describe('Redis rate limiter', () => {
  let runtime: Runtime;
  beforeAll(() => {
    runtime = testRuntime(testConfig(uniquePrefix('ratelimit')));
  });
  afterAll(() => closeRuntime(runtime));

  test('counts per scope and subject, refuses past the limit, and opens again when the window ends', async () => {
    const limiter = new RateLimiter(runtime.redis, runtime.keys);
    const rule = { limit: 3, windowSeconds: 1 };
    const first = await Promise.all([1, 2, 3, 4].map(() => limiter.hit('test', 'a', rule)));
    expect(first.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(first[3]).toMatchObject({ count: 4, limit: 3, retryAfterSeconds: 1 });
    // Another subject and another scope have their own counters.
    expect((await limiter.hit('test', 'b', rule)).allowed).toBe(true);
    expect((await limiter.hit('other', 'a', rule)).allowed).toBe(true);
    // Shared by every process: a second limiter on another connection sees the same count.
    const second = testRuntime(runtime.config);
    try {
      expect((await new RateLimiter(second.redis, second.keys).hit('test', 'a', rule)).allowed).toBe(false);
    } finally {
      await second.close();
      second.redis.disconnect();
    }
    await new Promise((r) => setTimeout(r, 1100));
    expect((await limiter.hit('test', 'a', rule)).allowed).toBe(true);
    expect(await runtime.redis.pttl(runtime.keys.rateLimit('test', 'a'))).toBeGreaterThan(0);
  });

  test('IPv6 clients are counted per /64, IPv4 per address', () => {
    expect(ipSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(ipSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(ipSubject('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(ipSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipSubject('::1')).toBe('0:0:0:0::/64');
  });
});
