/** What every CLI command shares: its global options, the config, and a Runtime it always closes. */
import path from 'node:path';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import { DaybreakError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { Runtime } from '../app/runtime';

export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
}

export function loadCliConfig(options: GlobalOptions): LoadedConfig {
  // Child processes (sandboxed builds) read the same file.
  if (options.config) process.env.DAYBREAK_CONFIG = path.resolve(options.config);
  const { loadConfig } = require('../config/load') as typeof import('../config/load');
  return loadConfig({ file: options.config });
}

/** Commands that print for people keep the logs to warnings unless LOG_LEVEL says otherwise. */
export const quietLogs = (): string => process.env.LOG_LEVEL ?? 'warn';

/** Loads config, checks Redis answers, runs `fn` with a Runtime and always closes it. */
export async function withRuntime<T>(
  options: GlobalOptions & { logLevel?: string; clock?: Clock; logger?: Logger; allowLegacyData?: boolean },
  fn: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig(options);
  const { assertRedisReachable, redisTargetOf } = require('../core/redis') as typeof import('../core/redis');
  // One server, or the sentinels (every one is asked; the message names them when none answers).
  await assertRedisReachable(redisTargetOf(config));
  const { Runtime: RuntimeClass } = require('../app/runtime') as typeof import('../app/runtime');
  const { createLogger } = require('../core/logger') as typeof import('../core/logger');
  const runtime = new RuntimeClass(config, { logger: options.logger ?? createLogger({ level: options.logLevel }), clock: options.clock });
  try {
    // Subscribers stored by an earlier Daybreak would read as missing (and be skipped, not mailed): convert them first.
    if (!options.allowLegacyData && (await runtime.subscribers.hasLegacyData())) {
      throw new DaybreakError('conflict', 'This Redis holds subscribers in the form an earlier Daybreak stored them: run `daybreak migrate` (with the workers, scheduler and web server stopped) before anything else.');
    }
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

/** An address from the command line, checked and normalised, or a bad-input error naming it. */
export function parseEmailArgument(raw: string, what = ''): string {
  const { emailSchema, normaliseEmail } = require('../subscribers/email') as typeof import('../subscribers/email');
  const email = emailSchema.safeParse(raw);
  if (!email.success) throw new DaybreakError('bad-input', `${what}"${raw}" ${email.error.issues[0]?.message ?? 'is not a valid address'}`);
  return normaliseEmail(email.data);
}

export const n = (value: number): string => value.toLocaleString('en-GB');
