/** Starts throw-away local Redis processes (a server, a replica, a sentinel) on free loopback ports, for the demo, benches and tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { redisAnswers } from './redis';

export { redisAnswers };

export function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** One local redis-server (or sentinel) process: its port, and ways to end it. */
export interface RedisProcess {
  port: number;
  pid: number;
  /** The folder holding its config file and data; removed by stop(). */
  dir: string;
  /** True once the process has exited (stopped, killed, or crashed). */
  readonly exited: boolean;
  /** Sends a signal and waits for the exit (SIGKILL: a crash, nothing flushed). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Ends the process if it still runs and removes its folder. */
  stop(): Promise<void>;
}

export interface RedisProcessOptions {
  binary?: string;
  /** Lines of redis.conf (a sentinel needs a file it can rewrite, so everything goes in one). */
  config?: string[];
  /** Run as a sentinel (`redis-server <file> --sentinel`). */
  sentinel?: boolean;
  /** How long to wait for the first PONG. */
  startTimeoutMs?: number;
}

/**
 * Starts redis-server on a free loopback port, keeping nothing on disk unless the config says so,
 * and waits until it answers PING. The caller stops it (stop() or kill()).
 */
export async function startRedisProcess(options: RedisProcessOptions = {}): Promise<RedisProcess> {
  const binary = options.binary ?? which('redis-server');
  if (!binary) throw new Error('redis-server is not on the PATH');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), options.sentinel ? 'daybreak-sentinel-' : 'daybreak-redis-'));
  const lines = [`bind 127.0.0.1`, `port ${port}`, `dir ${dir}`, ...(options.sentinel ? [] : [`save ""`, `appendonly no`]), ...(options.config ?? [])];
  const file = path.join(dir, options.sentinel ? 'sentinel.conf' : 'redis.conf');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(binary, options.sentinel ? [file, '--sentinel'] : [file], { stdio: 'ignore', detached: false });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!exited()) child.kill(signal);
    await exit;
  };
  const stop = async () => {
    await kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (exited()) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server${options.sentinel ? ' --sentinel' : ''} exited at start (code ${child.exitCode ?? child.signalCode})`);
    }
    if (await answersPing(port)) {
      return { port, pid: child.pid ?? 0, dir, get exited() { return exited(); }, kill, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not answer on port ${port} within ${options.startTimeoutMs ?? 10_000} ms`);
}

/** PING without the ready check: a sentinel answers PING but not INFO's keyspace the way a server does. */
async function answersPing(port: number): Promise<boolean> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 200, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Starts a throw-away redis-server on a free loopback port, keeping nothing on disk. */
export async function startPrivateRedis(binary = which('redis-server')): Promise<PrivateRedis> {
  if (!binary) throw new Error('redis-server is not on the PATH');
  const redis = await startRedisProcess({ binary });
  return { url: `redis://127.0.0.1:${redis.port}`, pid: redis.pid, stop: () => redis.stop() };
}
