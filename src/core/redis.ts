/** One place that decides how Daybreak talks to Redis (one server, or a master found through Sentinel), and what a person sees when it is down. */
import Redis, { type RedisOptions } from 'ioredis';
import { DaybreakError } from './errors';
import { followFailovers } from './failover-watch';

/** Where a lost connection is reported: once when it goes, once when it is back. */
export interface ConnectionReporter {
  warn(detail: Record<string, unknown>, message: string): void;
  info(detail: Record<string, unknown>, message: string): void;
}

export interface SentinelAddress {
  host: string;
  port: number;
}

/** A master that Redis Sentinel names (config `redis`, or REDIS_SENTINELS and REDIS_SENTINEL_MASTER). */
export interface SentinelSettings {
  sentinels: SentinelAddress[];
  /** The name in the sentinels' `sentinel monitor <name> …` line. */
  masterName: string;
  /** AUTH for the master and replicas. */
  username?: string;
  password?: string;
  /** AUTH for the sentinels themselves (their own `requirepass`), often different. */
  sentinelUsername?: string;
  sentinelPassword?: string;
  db?: number;
}

/** Where Daybreak's Redis is: a redis:// URL, or the master a group of sentinels names. */
export type RedisTarget = string | SentinelSettings;

/** The config's choice: the `redis` section (Sentinel) when there is one, else `redisUrl`. */
export function redisTargetOf(config: { redisUrl: string; redis?: SentinelSettings }): RedisTarget {
  return config.redis ?? config.redisUrl;
}

/** Hides the password in a redis:// URL for messages and logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** `127.0.0.1:26379, 127.0.0.1:26380`: the sentinels as a person typed them. */
export function sentinelList(settings: Pick<SentinelSettings, 'sentinels'>): string {
  return settings.sentinels.map((s) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`).join(', ');
}

/** "Redis at redis://…" or "Redis master "x" via sentinels a:1, b:2", for messages (never a password). */
export function describeRedisTarget(target: RedisTarget): string {
  if (typeof target === 'string') return `Redis at ${redactRedisUrl(target)}`;
  return `Redis master "${target.masterName}" via sentinels ${sentinelList(target)}`;
}

/** A write refused by a node that is (now) a replica: the master moved, so reconnect and send it again. */
export function isReadOnlyError(error: Error): boolean {
  return error.message.startsWith('READONLY');
}

/**
 * Sentinel mode: how a client finds the master and follows it through a failover.
 * - Every (re)connect asks the sentinels which node is master and checks that node says so
 *   (ioredis' ready check compares INFO's role), so a stale answer is retried, never written to.
 * - A master that is demoted while still running (a planned `SENTINEL FAILOVER`, a partition) keeps
 *   taking writes until Sentinel gets round to reconfiguring it, up to ten seconds later, and those
 *   writes are then lost. createRedis therefore subscribes to the sentinels' +switch-master and
 *   drops every connected client's connection at once (src/core/failover-watch.ts). ioredis' own
 *   `failoverDetector` does the same but stays off: it also drops a client that is in the middle of
 *   asking the sentinels after a crash, which ends that client for good ("Connection is closed",
 *   status `end`, every queued command rejected); measured here, a whole round of 30 clients died.
 * - `reconnectOnError`: a READONLY reply (a write that reached a node just demoted) reconnects and
 *   sends that command again (2), rather than failing the send job.
 * - Commands issued while no master is known wait in the offline queue (`enableOfflineQueue`, and
 *   `maxRetriesPerRequest: null` from createRedis), and commands in flight when the master died are
 *   sent again after reconnecting (ioredis' default `autoResendUnfulfilledCommands`): our Lua scripts
 *   are idempotent for the same job (a claim by its own owner, a settle of the same outcome).
 * - Retries every 100 ms growing to 1 s while the old master is gone: a failover takes a few
 *   seconds, and the default backoff (up to 5 s) would add seconds of pause after it.
 */
export function sentinelOptions(settings: SentinelSettings): RedisOptions {
  return {
    sentinels: settings.sentinels.map(({ host, port }) => ({ host, port })),
    name: settings.masterName,
    role: 'master',
    username: settings.username,
    password: settings.password,
    sentinelUsername: settings.sentinelUsername,
    sentinelPassword: settings.sentinelPassword,
    db: settings.db ?? 0,
    failoverDetector: false,
    enableOfflineQueue: true,
    reconnectOnError: (error) => (isReadOnlyError(error) ? 2 : false),
    retryStrategy: (times) => Math.min(100 * times, 1000),
    // Never give up on the sentinels: a worker must come back by itself when they do.
    sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
    // A master host that vanished (no RST) costs at most this per attempt before the sentinels are asked again.
    connectTimeout: 3000,
    sentinelCommandTimeout: 2000,
  };
}

export function createRedis(target: RedisTarget, options: RedisOptions = {}, reporter?: ConnectionReporter): Redis {
  const common: RedisOptions = {
    // BullMQ's blocking connections need this; our own commands are fine with it too.
    maxRetriesPerRequest: null,
    // Off: measured 15% slower sends with it on, since BullMQ already batches what it can (docs/performance.md).
    enableAutoPipelining: false,
    lazyConnect: false,
  };
  // BullMQ duplicates this client for its workers' connections; duplicate() copies every option
  // above, the sentinels included, so every connection follows the master.
  const client = typeof target === 'string' ? new Redis(target, { ...common, ...options }) : new Redis({ ...common, ...sentinelOptions(target), ...options });
  if (typeof target !== 'string') watchFailovers(client, target);
  const what = describeRedisTarget(target);
  const say = (level: 'warn' | 'info', message: string, detail: Record<string, unknown> = {}) => {
    if (reporter) reporter[level](detail, message);
    else process.stderr.write(`daybreak: ${message}\n`);
  };
  // Without a listener ioredis prints every failed reconnect as a stack trace (dozens a second
  // during an outage). One line when Redis goes, one when it is back; ioredis keeps retrying.
  let down = false;
  client.on('error', (error: Error & { code?: string }) => {
    if (down) return;
    down = true;
    say('warn', `${what} is unreachable (${error.code ?? error.message}); retrying until it answers`, { err: error.message });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    // After a failover, say where the master is now.
    const at = typeof target === 'string' || !client.stream?.remoteAddress ? '' : ` at ${client.stream.remoteAddress}:${client.stream.remotePort}`;
    say('info', `${what} answers again${at}`);
  });
  return client;
}

/** Puts a client, and every duplicate made from it (BullMQ's, QueueEvents'), under the +switch-master watch. */
function watchFailovers(client: Redis, settings: SentinelSettings): void {
  followFailovers(client, settings);
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => {
    const copy = duplicate(override);
    watchFailovers(copy, settings);
    return copy;
  };
}

/** One connection attempt, no retries, no waiting: for probes that must answer quickly. */
const probeOptions: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null, enableOfflineQueue: false };

/** Connects once and PINGs; throws what went wrong. */
async function pingOnce(target: RedisTarget, timeoutMs = 2000): Promise<void> {
  const options: RedisOptions = { ...probeOptions, connectTimeout: timeoutMs };
  const probe = typeof target === 'string'
    ? new Redis(target, options)
    : new Redis({ ...sentinelOptions(target), ...options, failoverDetector: false, sentinelRetryStrategy: () => null, sentinelCommandTimeout: timeoutMs, reconnectOnError: null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } finally {
    probe.disconnect();
  }
}

/** True when Redis (or the master the sentinels name) answers PING within the timeout. */
export async function redisAnswers(target: RedisTarget, timeoutMs = 1500): Promise<boolean> {
  try {
    await pingOnce(target, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

interface SentinelAnswer {
  address: string;
  master?: string;
  error?: string;
}

/** Asks each sentinel, in parallel, where the master is: what the one-line diagnosis is built from. */
async function askSentinels(settings: SentinelSettings): Promise<SentinelAnswer[]> {
  return Promise.all(settings.sentinels.map(async (s): Promise<SentinelAnswer> => {
    const address = sentinelList({ sentinels: [s] });
    const client = new Redis({ ...probeOptions, host: s.host, port: s.port, username: settings.sentinelUsername, password: settings.sentinelPassword, enableReadyCheck: false, commandTimeout: 2000 });
    // connect() only says "Connection is closed"; the socket's own error (ECONNREFUSED, ETIMEDOUT) says why.
    let socketError: (Error & { code?: string }) | undefined;
    client.on('error', (error: Error) => {
      socketError ??= error;
    });
    try {
      await client.connect();
      const reply = await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', settings.masterName);
      return Array.isArray(reply) && reply.length === 2 ? { address, master: `${String(reply[0])}:${String(reply[1])}` } : { address };
    } catch (error) {
      const cause = socketError ?? (error as Error & { code?: string });
      return { address, error: cause.code ?? cause.message };
    } finally {
      client.disconnect();
    }
  }));
}

/** Fails fast with an actionable one-line message when Redis is down, instead of hanging on retries. */
export async function assertRedisReachable(target: RedisTarget): Promise<void> {
  try {
    await pingOnce(target);
    return;
  } catch (error) {
    if (typeof target === 'string') {
      throw new DaybreakError('redis-unreachable', `Cannot reach ${describeRedisTarget(target)} (${(error as Error).message}). Start one (e.g. \`redis-server\`, or \`apt-get install -y redis-server\`) or set REDIS_URL.`, { cause: error });
    }
    throw new DaybreakError('redis-unreachable', await sentinelDiagnosis(target, error as Error), { cause: error });
  }
}

/** Why the master behind the sentinels cannot be reached, in one line naming what to fix. */
async function sentinelDiagnosis(settings: SentinelSettings, error: Error): Promise<string> {
  const answers = await askSentinels(settings);
  const answered = answers.filter((a) => a.error === undefined);
  if (answered.length === 0) {
    const reasons = [...new Set(answers.map((a) => a.error))].join(', ');
    return `Cannot reach any Redis Sentinel (${sentinelList(settings)}: ${reasons}). Start them, or set REDIS_SENTINELS (redis.sentinels in the config) to where they listen.`;
  }
  const masters = [...new Set(answered.flatMap((a) => (a.master ? [a.master] : [])))];
  if (masters.length === 0) {
    return `The sentinels at ${answered.map((a) => a.address).join(', ')} know no master named "${settings.masterName}". Set REDIS_SENTINEL_MASTER (redis.masterName in the config) to the name in their \`sentinel monitor\` line.`;
  }
  return `Cannot reach Redis master "${settings.masterName}" at ${masters.join(' or ')} (named by the sentinels at ${answered.map((a) => a.address).join(', ')}): ${error.message}. Check that it runs and that redis.password (REDIS_PASSWORD) is right.`;
}
