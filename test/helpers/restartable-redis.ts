/** A private redis-server a test can stop and start again on the same port, keeping its data (a Redis outage). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { redisAnswers, startPrivateRedis, which } from '../../src/core/redis-server';

export interface RestartableRedis {
  url: string;
  /** Saves its data and exits: connections are refused until start(). */
  stop(): Promise<void>;
  /** Starts again on the same port with the data it had. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  close(): Promise<void>;
}

export async function startRestartableRedis(): Promise<RestartableRedis> {
  const binary = which('redis-server');
  if (!binary) throw new Error('redis-server is not on the PATH');
  // A free port: the first run is startPrivateRedis's own, stopped again at once.
  const first = await startPrivateRedis(binary);
  const port = Number(new URL(first.url).port);
  await first.stop();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-redis-outage-'));
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    if (child && child.exitCode === null) return;
    child = spawn(binary, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', 'dump.rdb'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(url, 200)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not come back within 5 s');
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child?.once('exit', r));
    const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.connect();
    // SHUTDOWN SAVE: the data is written, the server exits and the connection drops.
    await admin.call('SHUTDOWN', 'SAVE').catch(() => undefined);
    admin.disconnect();
    await exited;
  };
  await start();
  return {
    url,
    stop,
    start,
    close: async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child?.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
