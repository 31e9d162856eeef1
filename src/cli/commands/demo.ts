/** `daybreak demo`: a full morning edition on built-in defaults, into the local outbox. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../config/load';
import { DaybreakError } from '../../core/errors';
import { createLogger } from '../../core/logger';
import { describeRedisTarget, redisTargetOf } from '../../core/redis';
import { redisAnswers, startPrivateRedis, which, type PrivateRedis } from '../../core/redis-server';
import { editionIdFor } from '../../delivery/edition';
import { Runtime } from '../../app/runtime';
import { localDateOf } from '../../delivery/schedule';
import { outboxDir } from '../../mail/transports';
import { loadCliConfig, type GlobalOptions } from '../context';
import { runEditionWithProgress } from './run-edition';

/** A handful of readers, with the names a real list has (accents, apostrophes, none at all). */
export const demoReaders: Array<{ email: string; name?: string; suppressed?: boolean }> = [
  { email: 'ada.lovelace@example.com', name: 'Ada Lovelace' },
  { email: 'jose.nunez@example.com', name: 'José Ñúñez' },
  { email: 'priya.shah@example.com', name: 'Priya Shah' },
  { email: "tom.oneill@example.com", name: "Tom O'Neill" },
  { email: 'newsdesk+morning@example.com' },
  { email: 'gone.away@example.com', name: 'Former Reader', suppressed: true },
];

export async function demo(globals: GlobalOptions): Promise<void> {
  const started = performance.now();
  const base = loadCliConfig(globals);
  let privateRedis: PrivateRedis | undefined;
  // The configured Redis (one server, or the master its sentinels name); else a private one for the run.
  const configured = redisTargetOf(base);
  let overrides: Record<string, unknown> = {};
  if (!(await redisAnswers(configured))) {
    const where = describeRedisTarget(configured);
    const binary = which('redis-server');
    if (!binary) {
      throw new DaybreakError('redis-unreachable', `No ${where} answers and there is no redis-server on the PATH. Install one (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis.`);
    }
    privateRedis = await startPrivateRedis(binary);
    overrides = { redisUrl: privateRedis.url, redis: undefined };
    console.log(`No ${where} answers; started a private redis-server for this run at ${privateRedis.url}.`);
  }
  // The demo keeps its data under its own prefix and clears it first, so it can run again and again.
  const config = loadConfig({ file: globals.config, overrides: { ...overrides, redisPrefix: `${base.redisPrefix}-demo` } });
  const runtime = new Runtime(config, { logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
  try {
    await runtime.deleteAllKeys();
    const newsletter = config.newsletters[0];
    for (const reader of demoReaders) {
      await runtime.subscribers.add({ email: reader.email, name: reader.name, newsletters: [newsletter.id], confirmed: true, source: 'demo' });
      if (reader.suppressed) await runtime.subscribers.suppress(reader.email, { reason: 'hard bounce (demo)', source: 'demo' });
    }
    const localDate = localDateOf(runtime.clock.now(), newsletter.timezone);
    const editionId = editionIdFor(newsletter.id, localDate);
    if (!config.smtpUrl) await fs.rm(path.join(outboxDir(config), editionId), { recursive: true, force: true });
    console.log(`Daybreak demo: ${newsletter.name} edition for ${localDate}, ${demoReaders.length} seeded readers (one suppressed), ${config.smtpUrl ? `sending through ${config.smtpUrl.replace(/\/\/[^@]*@/, '//')}` : 'delivering into the local outbox'}.`);
    const edition = await runEditionWithProgress(runtime, newsletter.id, localDate, {});
    console.log(`Demo finished in ${((performance.now() - started) / 1000).toFixed(2)} s.`);
    if (edition.state !== 'done' && edition.state !== 'skipped') throw new DaybreakError('edition-failed', `Edition ${edition.id} ended ${edition.state}: ${edition.reason ?? ''}`);
  } finally {
    await runtime.close();
    await privateRedis?.stop();
  }
}
