/** Sentinel settings: the config section and its environment overrides, the clients they make, and the CLI's one line when no sentinel answers. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfigPath, loadConfig, parseSentinelList } from '../../src/config/load';
import { parseSwitchMaster, watchedClients } from '../../src/core/failover-watch';
import { createRedis, describeRedisTarget, isReadOnlyError, redisTargetOf } from '../../src/core/redis';
import { runCli } from '../helpers/cli';

/** The shipped config with a `redis` section, in a temporary file. */
function configWithSentinels(redis: Record<string, unknown>): string {
  const raw = JSON.parse(fs.readFileSync(defaultConfigPath, 'utf8')) as Record<string, unknown>;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-cfg-')), 'daybreak.json');
  fs.writeFileSync(file, JSON.stringify({ ...raw, redis }));
  return file;
}

/** Loopback ports with nothing listening: connections are refused at once. */
async function closedPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe('Sentinel settings', () => {
  test('REDIS_SENTINELS and REDIS_SENTINEL_MASTER make a Sentinel section, used instead of redisUrl', () => {
    const config = loadConfig({ env: { REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381', REDIS_SENTINEL_MASTER: 'daybreak', REDIS_PASSWORD: 'data-secret', REDIS_SENTINEL_PASSWORD: 'sentinel-secret' } });
    expect(config.redis).toEqual({
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26380 }, { host: '::1', port: 26381 }],
      masterName: 'daybreak',
      password: 'data-secret',
      sentinelPassword: 'sentinel-secret',
    });
    expect(redisTargetOf(config)).toBe(config.redis);
    // Messages name the master and the sentinels, never a password.
    expect(describeRedisTarget(redisTargetOf(config))).toBe('Redis master "daybreak" via sentinels 10.0.0.1:26379, 10.0.0.2:26380, [::1]:26381');
  });

  test('without Sentinel settings, redisUrl and REDIS_URL work as before (and a stray REDIS_PASSWORD changes nothing)', () => {
    const shipped = loadConfig({ env: {} });
    expect(shipped.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(shipped.redis).toBeUndefined();
    const config = loadConfig({ env: { REDIS_URL: 'redis://:pw@10.0.0.5:6380/2', REDIS_PASSWORD: 'meant-for-the-redis-container' } });
    expect(config.redis).toBeUndefined();
    expect(redisTargetOf(config)).toBe('redis://:pw@10.0.0.5:6380/2');
    expect(describeRedisTarget(redisTargetOf(config))).toBe('Redis at redis://:***@10.0.0.5:6380/2');
  });

  test('the config file names sentinels as {host, port}; the environment overrides it, REDIS_URL included', () => {
    const file = configWithSentinels({ sentinels: [{ host: 'sentinel-1', port: 26379 }, { host: 'sentinel-2', port: 26379 }], masterName: 'prod', sentinelPassword: 'from-file' });
    expect(loadConfig({ env: { DAYBREAK_CONFIG: file } }).redis).toEqual({ sentinels: [{ host: 'sentinel-1', port: 26379 }, { host: 'sentinel-2', port: 26379 }], masterName: 'prod', sentinelPassword: 'from-file' });
    expect(loadConfig({ env: { DAYBREAK_CONFIG: file, REDIS_SENTINEL_MASTER: 'other', REDIS_PASSWORD: 'pw' } }).redis).toMatchObject({ masterName: 'other', password: 'pw', sentinelPassword: 'from-file' });
    // One server from the environment replaces the file's Sentinel section, as every override does.
    const single = loadConfig({ env: { DAYBREAK_CONFIG: file, REDIS_URL: 'redis://10.0.0.9:6379' } });
    expect(single.redis).toBeUndefined();
    expect(redisTargetOf(single)).toBe('redis://10.0.0.9:6379');
  });

  test.each([
    ['REDIS_URL and REDIS_SENTINELS both set', { REDIS_URL: 'redis://10.0.0.5:6379', REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_URL and REDIS_SENTINELS are both set: unset REDIS_URL/],
    ['a sentinel without a port', { REDIS_SENTINELS: '10.0.0.1', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS: "10\.0\.0\.1" is not host:port; write e\.g\./],
    ['a URL instead of host:port', { REDIS_SENTINELS: 'redis://10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS: "redis:\/\/10\.0\.0\.1:26379" is not host:port/],
    ['a port out of range', { REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:99999', REDIS_SENTINEL_MASTER: 'm' }, /REDIS_SENTINELS: "10\.0\.0\.2:99999" is not host:port/],
    ['a master name without sentinels', { REDIS_SENTINEL_MASTER: 'm' }, /redis\.sentinels: a list of \{"host", "port"\}: set redis\.sentinels in the config or REDIS_SENTINELS=/],
    ['sentinels without a master name', { REDIS_SENTINELS: '10.0.0.1:26379' }, /redis\.masterName: the master's name in the sentinels' `sentinel monitor <name> …` line/],
    ['a master name with a space', { REDIS_SENTINELS: '10.0.0.1:26379', REDIS_SENTINEL_MASTER: 'my master' }, /redis\.masterName: letters, digits, dot, dash or underscore/],
    ['an empty list', { REDIS_SENTINELS: ' , ', REDIS_SENTINEL_MASTER: 'm' }, /redis\.sentinels: name at least one sentinel/],
  ])('%s stops the program with a message naming what to fix', (_what, env, expected) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(expected);
  });

  test('a bad field in the file section is named with its path', () => {
    const file = configWithSentinels({ sentinels: [{ host: 'sentinel-1', port: '26379' }], masterName: 'prod', replicas: 2 });
    const message = (() => {
      try {
        loadConfig({ env: { DAYBREAK_CONFIG: file } });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('redis.sentinels.0.port: a port number');
    expect(message).toContain('redis: Unrecognized key: "replicas"');
  });

  test('the sentinel list parser reads one short anchored token per entry, whatever it is given', () => {
    expect(parseSentinelList('a:1,b-2.example:65535')).toEqual([{ host: 'a', port: 1 }, { host: 'b-2.example', port: 65535 }]);
    expect(() => parseSentinelList(`${'a'.repeat(100_000)}:1`)).toThrow(/REDIS_SENTINELS: "a{80}" is not host:port/);
    expect(() => parseSentinelList('host:0')).toThrow(/is not host:port/);
  });

  test('a Sentinel client and every duplicate of it (how BullMQ makes its connections) keep the sentinels and the failover settings', () => {
    const settings = { sentinels: [{ host: '127.0.0.1', port: 1 }], masterName: 'daybreak', password: 'pw' };
    const client = createRedis(settings, { lazyConnect: true });
    const copy = client.duplicate({ connectionName: 'bull:worker' });
    const copyOfCopy = copy.duplicate();
    try {
      for (const c of [client, copy, copyOfCopy]) {
        expect(c.options).toMatchObject({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'daybreak', role: 'master', password: 'pw', maxRetriesPerRequest: null, enableAutoPipelining: false, enableOfflineQueue: true, failoverDetector: false });
        expect(c.options.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(2);
        expect(c.options.reconnectOnError?.(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
        // Retries while the old master is gone stay short, and never stop.
        expect(c.options.retryStrategy?.(50)).toBe(1000);
        expect(c.options.sentinelRetryStrategy?.(1000)).toBe(2000);
      }
      expect(copy.options.connectionName).toBe('bull:worker');
      expect(copy.duplicate).not.toBe(Object.getPrototypeOf(copy).duplicate);
    } finally {
      for (const c of [client, copy, copyOfCopy]) c.disconnect();
    }
    expect(watchedClients()).toBe(0);
  });

  test('READONLY errors and +switch-master messages are recognised', () => {
    expect(isReadOnlyError(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(isReadOnlyError(new Error('ERR something READONLY'))).toBe(false);
    expect(parseSwitchMaster('daybreak 10.0.0.1 6379 10.0.0.2 6380')).toEqual({ masterName: 'daybreak', host: '10.0.0.2', port: 6380 });
    expect(parseSwitchMaster('daybreak 10.0.0.1 6379')).toBeUndefined();
  });

  test('when no sentinel answers, the CLI exits 3 with one line naming them all', async () => {
    const [a, b] = await closedPorts(2);
    const run = await runCli(['editions'], { REDIS_URL: '', REDIS_SENTINELS: `127.0.0.1:${a},127.0.0.1:${b}`, REDIS_SENTINEL_MASTER: 'daybreak' });
    expect(run.code).toBe(3);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`daybreak: Cannot reach any Redis Sentinel (127.0.0.1:${a}, 127.0.0.1:${b}: ECONNREFUSED). Start them, or set REDIS_SENTINELS (redis.sentinels in the config) to where they listen.`);
  });
});
