/** A real Sentinel deployment on loopback for tests: one master, one replica, three sentinels, each its own process on a free port. */
import Redis from 'ioredis';
import { startRedisProcess, which, type RedisProcess } from '../../src/core/redis-server';
import type { SentinelSettings } from '../../src/core/redis';
import { recordSkip } from './corpus';

export interface SentinelGroup {
  masterName: string;
  /** What the config's `redis` section holds for this group. */
  settings: SentinelSettings;
  /** The data nodes, master first as started (after a failover the replica is master). */
  nodes: RedisProcess[];
  sentinels: RedisProcess[];
  /** The master's port as the first sentinel that answers reports it. */
  masterPort(): Promise<number | undefined>;
  /** SIGKILLs the node that is master now (a crash: nothing flushed); returns its port. */
  killMaster(): Promise<number>;
  /** Waits until a sentinel names a master other than `oldPort`, and that node says it is master. */
  waitForNewMaster(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Waits until the group could fail over again (after a planned failover the old master must resync first). */
  readyToFailOver(timeoutMs?: number): Promise<void>;
  /** Ends every process the group started, whatever state they are in. */
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  masterName?: string;
  /** How long a master may be silent before a sentinel thinks it is down. */
  downAfterMs?: number;
  /** Sentinel's failover-timeout: also how long before a failed election is tried again (twice this). */
  failoverTimeoutMs?: number;
}

/** A short-lived client for the group's own checks (never the code under test). */
async function withClient<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T | undefined> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 2000, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`sentinel group: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The role a node reports (`master` or `slave`), and for a replica whether its link is up. */
async function replicationInfo(port: number): Promise<Record<string, string> | undefined> {
  return withClient(port, async (c) => Object.fromEntries((await c.info('replication')).split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string])));
}

/** A flat `[field, value, …]` reply as an object. */
function pairs(reply: unknown): Record<string, string> {
  const list = Array.isArray(reply) ? reply.map(String) : [];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

/**
 * Waits until every running sentinel could fail the master over: it sees a healthy replica with
 * its link to the master up, and the two other sentinels (else there is no quorum or no candidate).
 * Sentinels find each other through hello messages every 2 s, and replicas through the master's INFO.
 */
async function readyToFailOver(masterName: string, sentinels: RedisProcess[], timeoutMs: number): Promise<void> {
  for (const sentinel of sentinels.filter((s) => !s.exited)) {
    await until(`sentinel ${sentinel.port} to see a healthy replica and two other sentinels`, timeoutMs, () => withClient(sentinel.port, async (c) => {
      const replicas = ((await c.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]).map(pairs);
      const others = (await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
      const healthy = replicas.some((r) => r.flags === 'slave' && r['master-link-status'] === 'ok');
      return healthy && others.length >= 2 ? true : undefined;
    }));
  }
}

/**
 * `describe`, or `describe.skip` with a loud note when this machine has no redis-server binary to
 * start the group with (the tests may be using a Redis they did not start). Fatal under CI=true.
 */
export function sentinelSuite(): jest.Describe {
  if (which('redis-server')) return describe;
  const reason = 'no redis-server on the PATH to start a master, a replica and three sentinels (apt-get install -y redis-server)';
  if (process.env.CI === 'true') throw new Error(`The Sentinel failover tests need redis-server and CI=true: ${reason}`);
  recordSkip(reason);
  return describe.skip;
}

/**
 * Starts the group and waits until it can fail over: the replica is in sync, and every sentinel
 * sees the master, the replica and the two other sentinels (else a failover has no quorum).
 * On any failure it stops what it started before throwing.
 */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const masterName = options.masterName ?? 'daybreak-test';
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 3000;
  const started: RedisProcess[] = [];
  const nodes: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((p) => p.stop().catch(() => undefined)));
  };
  try {
    // No initial-sync delay: the replica attaches at once (the default waits 5 s for more replicas).
    const master = await startRedisProcess({ config: ['repl-diskless-sync-delay 0'] });
    started.push(master);
    nodes.push(master);
    const replica = await startRedisProcess({ config: [`replicaof 127.0.0.1 ${master.port}`, 'repl-diskless-sync-delay 0'] });
    started.push(replica);
    nodes.push(replica);
    await until('the replica to be in sync', 15_000, async () => ((await replicationInfo(replica.port))?.master_link_status === 'up' ? true : undefined));
    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedisProcess({
        sentinel: true,
        config: [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
        ],
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    await readyToFailOver(masterName, sentinels, 20_000);
  } catch (error) {
    await stopAll();
    throw error;
  }

  const masterPort = async (): Promise<number | undefined> => {
    for (const sentinel of sentinels) {
      if (sentinel.exited) continue;
      const reply = await withClient(sentinel.port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) as Promise<string[] | null>);
      if (Array.isArray(reply)) return Number(reply[1]);
    }
    return undefined;
  };

  return {
    masterName,
    settings: { sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), masterName },
    nodes,
    sentinels,
    masterPort,
    async killMaster() {
      const port = await masterPort();
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`sentinel group: no running node is master (sentinels say ${port})`);
      await node.kill('SIGKILL');
      return node.port;
    },
    async waitForNewMaster(oldPort, timeoutMs = 30_000) {
      return until('a new master', timeoutMs, async () => {
        const port = await masterPort();
        if (port === undefined || port === oldPort) return undefined;
        return (await replicationInfo(port))?.role === 'master' ? port : undefined;
      });
    },
    readyToFailOver: (timeoutMs = 30_000) => readyToFailOver(masterName, sentinels, timeoutMs),
    stop: stopAll,
  };
}
