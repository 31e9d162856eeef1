/** Moves every Daybreak Redis client to the new master as soon as the sentinels announce a failover (+switch-master). */
import Redis from 'ioredis';

/** Just what the watch needs from the Sentinel settings (a structural subset of SentinelSettings). */
export interface WatchedMaster {
  sentinels: Array<{ host: string; port: number }>;
  masterName: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

interface Watch {
  subscribers: Redis[];
  clients: Set<Redis>;
}

/** One watch per master and set of sentinels in this process: three sentinel connections, however many clients. */
const watches = new Map<string, Watch>();

/** `<master name> <old ip> <old port> <new ip> <new port>`, as Sentinel publishes it. */
export function parseSwitchMaster(message: string): { masterName: string; host: string; port: number } | undefined {
  const parts = message.split(' ');
  if (parts.length !== 5) return undefined;
  const port = Number(parts[4]);
  return Number.isInteger(port) ? { masterName: parts[0], host: parts[3], port } : undefined;
}

function keyOf(master: WatchedMaster): string {
  return JSON.stringify([master.masterName, master.sentinels.map((s) => `${s.host}:${s.port}`)]);
}

/**
 * Drops the connection of every client still talking to the old master, so it asks the sentinels
 * again and lands on the new one; commands in flight are sent again there (ioredis resends them).
 * Only a client that is connected is touched: one that is already (re)connecting asks the
 * sentinels anyway, and dropping it mid-resolution would end it for good (what ioredis' own
 * `failoverDetector` does after a crash: measured, every client of a round could end).
 */
function moveClients(watch: Watch, master: WatchedMaster, message: string): void {
  const target = parseSwitchMaster(message);
  if (!target || target.masterName !== master.masterName) return;
  for (const client of watch.clients) {
    if (client.status !== 'ready' && client.status !== 'connect') continue;
    const stream = client.stream;
    const remote = stream?.remoteAddress?.replace(/^::ffff:/, '');
    if (remote === target.host && stream?.remotePort === target.port) continue;
    client.disconnect(true);
  }
}

function startWatch(master: WatchedMaster): Watch {
  const watch: Watch = { subscribers: [], clients: new Set() };
  for (const sentinel of master.sentinels) {
    const subscriber = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      username: master.sentinelUsername,
      password: master.sentinelPassword,
      enableReadyCheck: false,
      maxRetriesPerRequest: null,
      connectTimeout: 3000,
      // A sentinel that is down is tried again now and then; the others still tell us.
      retryStrategy: (times) => Math.min(500 * times, 5000),
    });
    // Its outages are not the application's: the data connections report Redis itself.
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, message: string) => moveClients(watch, master, message));
    subscriber.subscribe('+switch-master').catch(() => undefined);
    watch.subscribers.push(subscriber);
  }
  return watch;
}

/**
 * Registers a client for the failover watch while it is connected (from each `ready` to its
 * `end`); the sentinel subscriptions close when the process's last client does, so a CLI command
 * or a test exits on its own.
 */
export function followFailovers(client: Redis, master: WatchedMaster): void {
  const key = keyOf(master);
  const register = () => {
    let watch = watches.get(key);
    if (!watch) {
      watch = startWatch(master);
      watches.set(key, watch);
    }
    watch.clients.add(client);
  };
  const unregister = () => {
    const watch = watches.get(key);
    if (!watch) return;
    watch.clients.delete(client);
    if (watch.clients.size === 0) {
      watches.delete(key);
      for (const subscriber of watch.subscribers) subscriber.disconnect();
    }
  };
  client.on('ready', register);
  client.on('end', unregister);
  if (client.status === 'ready') register();
}

/** How many clients the watch holds now (tests check that closing a runtime leaves none). */
export function watchedClients(): number {
  let count = 0;
  for (const watch of watches.values()) count += watch.clients.size;
  return count;
}
