import path from 'node:path';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import { createLogger, type Logger } from '../core/logger';
import { assertRedisReachable } from '../core/redis';
import { Runtime } from '../delivery/runtime';

/** An error whose message is meant for the person at the terminal; exit code says what kind. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export interface GlobalOptions {
  config?: string;
}

export function loadCliConfig(options: GlobalOptions): LoadedConfig {
  // Child processes (sandboxed builds) read the same file.
  if (options.config) process.env.DAYBREAK_CONFIG = path.resolve(options.config);
  try {
    return loadConfig({ file: options.config });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2);
    throw error;
  }
}

/** Loads config, checks Redis answers, runs `fn` with a Runtime and always closes it. */
export async function withRuntime<T>(
  options: GlobalOptions & { logLevel?: string; clock?: Clock; logger?: Logger },
  fn: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const config = loadCliConfig(options);
  try {
    await assertRedisReachable(config.redisUrl);
  } catch (error) {
    throw new CliError((error as Error).message, 3);
  }
  const runtime = new Runtime(config, { logger: options.logger ?? createLogger({ level: options.logLevel }), clock: options.clock });
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

/** Whole numbers from the command line, with a message naming the option. */
export function parsePositiveInt(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`${name} must be a whole number of at least 1 (got "${value}")`, 2);
    return Number(value);
  };
}
