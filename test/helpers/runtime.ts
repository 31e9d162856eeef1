import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load';
import type { Clock } from '../../src/core/clock';
import { silentLogger } from '../../src/core/logger';
import { createRedis, redisTargetOf } from '../../src/core/redis';
import { Runtime } from '../../src/app/runtime';
import type { MailTransport } from '../../src/mail/transports';
import type { MxResolver } from '../../src/delivery/provider-directory';

/** Tests never ask real DNS (no traffic leaves loopback): a test that wants MX answers gives a fake resolver. */
export const noDnsInTests: MxResolver = {
  resolveMx: (domain) => Promise.reject(new Error(`no DNS in tests (asked for ${domain}): give testRuntime an mxResolver`)),
};

export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for each test file (and run), so files never see each other's data. */
export function uniquePrefix(name: string): string {
  return `test-${name}-${crypto.randomBytes(4).toString('hex')}`;
}

export function testConfig(prefix: string, overrides: Record<string, unknown> = {}): LoadedConfig {
  const base = loadConfig({ env: {}, overrides: { redisUrl: redisUrl(), redisPrefix: prefix, secret: 'test-secret-0123456789abcdef', publicUrl: 'http://daybreak.test', ...overrides } });
  return base;
}

/** A config file on disk (for child processes), with sources made absolute. */
export function writeConfigFile(config: LoadedConfig, extra: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-config-'));
  const { configDir, ...rest } = config;
  const newsletters = rest.newsletters.map((n) => {
    const source = n.source.kind === 'url' ? { url: n.source.url } : { [n.source.kind]: path.resolve(configDir, n.source.path) };
    return { ...n, source: { ...source, ...(n.source.section ? { section: n.source.section } : {}) } };
  });
  const file = path.join(dir, 'daybreak.json');
  fs.writeFileSync(file, JSON.stringify({ ...rest, outboxDir: path.resolve(configDir, rest.outboxDir), newsletters, ...extra }, null, 2));
  return file;
}

export function testRuntime(config: LoadedConfig, options: { clock?: Clock; transport?: MailTransport; mxResolver?: MxResolver } = {}): Runtime {
  return new Runtime(config, { logger: silentLogger, redis: createRedis(redisTargetOf(config)), mxResolver: noDnsInTests, ...options });
}

/** Deletes every key under the prefix (the test's own data, BullMQ's included). */
export async function flushPrefix(runtime: Runtime): Promise<void> {
  await runtime.deleteAllKeys();
}

export async function closeRuntime(runtime: Runtime): Promise<void> {
  // Closed first, flushed after: what closing writes (the pacer's and the metrics' last counts,
  // sent as the workers close) is gone with the rest.
  await runtime.close();
  await flushPrefix(runtime);
  runtime.redis.disconnect();
}

/**
 * Test set-up only: writes edition fields directly (a state, counts) to put an edition where a
 * test needs it. Code never does this: it goes through the edition store's transitions.
 */
export async function setEditionFields(runtime: Runtime, id: string, fields: Record<string, string | number>): Promise<void> {
  await runtime.redis.hset(runtime.keys.edition(id), fields);
}
