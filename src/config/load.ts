/** Reads the config file, applies environment overrides and validates the lot; a bad value names the field. */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DaybreakError } from '../core/errors';
import { configSchema, type DaybreakConfig } from './schema';

/** The folder holding package.json: found by walking up, so it is the same from src/ and from dist/. */
function findProjectRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start, '..', '..');
    dir = parent;
  }
  return dir;
}

/** The repository root: config paths, templates and shipped samples are resolved from here. */
export const projectRoot = findProjectRoot(__dirname);
export const defaultConfigPath = path.join(projectRoot, 'config', 'daybreak.json');

/** Only for local runs and the demo; production must set DAYBREAK_SECRET. */
const developmentSecret = 'daybreak-development-secret-not-for-production';

export class ConfigError extends DaybreakError {
  constructor(message: string) {
    super('config-invalid', message);
    this.name = 'ConfigError';
  }
}

function describeIssues(error: z.ZodError, file: string): string {
  const lines = error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    return `  - ${where}: ${issue.message}`;
  });
  return `Invalid configuration in ${file}:\n${lines.join('\n')}`;
}

/** Webhook secrets usually come from the environment, not the config file (bounces issue). */
function applyWebhookEnv(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const webhooks = { ...((merged.webhooks as Record<string, unknown> | undefined) ?? {}) };
  const section = (name: string) => ({ ...((webhooks[name] as Record<string, unknown> | undefined) ?? {}) });
  if (env.SES_SNS_TOPIC_ARNS) webhooks.ses = { ...section('ses'), topicArns: env.SES_SNS_TOPIC_ARNS.split(',').map((s) => s.trim()).filter(Boolean) };
  if (env.SENDGRID_WEBHOOK_PUBLIC_KEY) webhooks.sendgrid = { ...section('sendgrid'), publicKey: env.SENDGRID_WEBHOOK_PUBLIC_KEY };
  if (env.POSTMARK_WEBHOOK_USER || env.POSTMARK_WEBHOOK_PASSWORD) webhooks.postmark = { ...section('postmark'), username: env.POSTMARK_WEBHOOK_USER, password: env.POSTMARK_WEBHOOK_PASSWORD };
  if (env.MAILGUN_WEBHOOK_SIGNING_KEY) webhooks.mailgun = { ...section('mailgun'), signingKey: env.MAILGUN_WEBHOOK_SIGNING_KEY };
  if (Object.keys(webhooks).length) merged.webhooks = webhooks;
}

/**
 * `10.0.0.1:26379,10.0.0.2:26379` (an IPv6 host in brackets: `[::1]:26379`) as sentinel addresses;
 * a malformed entry is a ConfigError naming REDIS_SENTINELS. One anchored match per short entry.
 */
export function parseSentinelList(raw: string): Array<{ host: string; port: number }> {
  return raw.split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
    const match = entry.length <= 300 ? /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(entry) : null;
    const port = match ? Number(match[3]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`REDIS_SENTINELS: "${entry.slice(0, 80)}" is not host:port; write e.g. REDIS_SENTINELS=10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379`);
    }
    return { host: match[1] ?? match[2], port };
  });
}

/**
 * Where Redis is, from the environment: REDIS_URL (one server) or REDIS_SENTINELS with
 * REDIS_SENTINEL_MASTER (Sentinel), each replacing what the file says. Both at once is refused,
 * since which one wins would be a guess. REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD fill the
 * Sentinel section's passwords when there is one (with REDIS_URL the password is in the URL).
 */
function applyRedisEnv(merged: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const sentinels = env.REDIS_SENTINELS?.trim();
  if (sentinels && env.REDIS_URL) {
    throw new ConfigError('REDIS_URL and REDIS_SENTINELS are both set: unset REDIS_URL to use Sentinel (REDIS_SENTINELS with REDIS_SENTINEL_MASTER), or unset REDIS_SENTINELS to use one Redis');
  }
  if (env.REDIS_URL) {
    merged.redisUrl = env.REDIS_URL;
    // One server from the environment replaces a Sentinel section in the file, as every override does.
    delete merged.redis;
  }
  const fromFile = merged.redis;
  const section: Record<string, unknown> = typeof fromFile === 'object' && fromFile !== null && !Array.isArray(fromFile) ? { ...(fromFile as Record<string, unknown>) } : {};
  let touched = false;
  const set = (field: string, value: unknown) => {
    section[field] = value;
    touched = true;
  };
  if (sentinels) set('sentinels', parseSentinelList(sentinels));
  if (env.REDIS_SENTINEL_MASTER) set('masterName', env.REDIS_SENTINEL_MASTER.trim());
  // Only with Sentinel: a REDIS_PASSWORD meant for something else (a Redis container's own
  // setting in a shared .env) must not turn a REDIS_URL setup into a Sentinel one.
  if (touched || fromFile !== undefined) {
    if (env.REDIS_PASSWORD) set('password', env.REDIS_PASSWORD);
    if (env.REDIS_SENTINEL_PASSWORD) set('sentinelPassword', env.REDIS_SENTINEL_PASSWORD);
  }
  if (touched) merged.redis = section;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides DAYBREAK_CONFIG. */
  file?: string;
  /** Extra values applied after the file and the environment (tests use this). */
  overrides?: Record<string, unknown>;
}

/**
 * Reads the config file, applies environment overrides and validates the lot.
 * A bad value throws a ConfigError naming the field and the problem.
 */
export function loadConfig(options: LoadConfigOptions = {}): DaybreakConfig & { configDir: string } {
  const env = options.env ?? process.env;
  const file = path.resolve(options.file ?? env.DAYBREAK_CONFIG ?? defaultConfigPath);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(`Cannot read configuration ${file}: ${reason}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`Invalid configuration in ${file}: the top level must be a JSON object`);
  }
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  applyRedisEnv(merged, env);
  if (env.SMTP_URL) merged.smtpUrl = env.SMTP_URL;
  if (env.PUBLIC_URL) merged.publicUrl = env.PUBLIC_URL;
  if (env.PORT) merged.port = /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT;
  if (env.DAYBREAK_SECRET) merged.secret = env.DAYBREAK_SECRET;
  if (env.DAYBREAK_REDIS_PREFIX) merged.redisPrefix = env.DAYBREAK_REDIS_PREFIX;
  if (env.DAYBREAK_OUTBOX) merged.outboxDir = env.DAYBREAK_OUTBOX;
  applyWebhookEnv(merged, env);
  if (merged.secret === undefined) {
    if (env.NODE_ENV === 'production') {
      throw new ConfigError('DAYBREAK_SECRET must be set in production (it signs every unsubscribe and confirmation link)');
    }
    merged.secret = developmentSecret;
  }
  Object.assign(merged, options.overrides ?? {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, file));
  const configDir = path.dirname(file);
  return { ...parsed.data, configDir };
}

export type LoadedConfig = ReturnType<typeof loadConfig>;

/** Resolves a path from the config (a feed file, a sample, a DKIM key) against the config's folder. */
export function resolveConfigPath(config: { configDir: string }, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(config.configDir, p);
}

/**
 * Newsletters that would mail the shipped sample stories in production, as one message naming them
 * and the fix; undefined when there are none (or this is not production, or the config allows it).
 */
export function sampleSourceRefusal(config: Pick<DaybreakConfig, 'allowSampleSources' | 'newsletters'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_ENV !== 'production' || config.allowSampleSources) return undefined;
  const samples = config.newsletters.filter((n) => n.source.kind === 'sample').map((n) => n.id);
  if (samples.length === 0) return undefined;
  return `Newsletter(s) ${samples.join(', ')} read the shipped sample stories (source.sample), and NODE_ENV is production: give them your real feed (source.url or source.file) in the config, or set "allowSampleSources": true if you really mean to send the samples.`;
}
