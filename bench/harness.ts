/** What the benchmarks share: the SMTP sink and ceiling processes, seeding readers through the real import, a worker's config and its peak RSS. */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot, type LoadedConfig } from '../src/config/load';
import type { Runtime } from '../src/app/runtime';
import { importCsv, type ImportReport } from '../src/subscribers/csv';
import { writeReadersCsv } from './subscriber-memory';

const tsxArgs = ['--import', 'tsx'];

export interface Sink {
  child: ChildProcess;
  url: string;
  count(): Promise<number>;
  /** From now on, note when each recipient's message was answered 250. */
  trace(): Promise<void>;
  /** Recipient -> when the sink answered 250 (wall clock ms, sub-millisecond), since trace(). */
  accepted(): Promise<Map<string, number>>;
}

/** The SMTP sink in its own process (its own core): counts what it accepts, and can time each 250. */
/** A `--name value` option from the command line, or undefined. */
export function optionValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The options every edition bench takes: list sizes, the worker's concurrency and SMTP connections, the ceiling's message count. */
export interface EditionBenchArgs {
  sizes: number[];
  concurrency: number;
  connections: number;
  ceiling: number;
}

export function editionBenchArgs(argv: string[]): EditionBenchArgs {
  const get = (name: string) => optionValue(argv, name);
  return {
    sizes: (get('sizes') ?? '10000,100000').split(',').map(Number),
    concurrency: Number(get('concurrency') ?? 100),
    connections: Number(get('connections') ?? 5),
    ceiling: Number(get('ceiling') ?? 20000),
  };
}

export function startSink(): Promise<Sink> {
  const child = fork(path.join(__dirname, 'sink.ts'), [], { execArgv: tsxArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => {
    child.once('message', (m: { port: number }) => {
      resolve({
        child,
        url: `smtp://127.0.0.1:${m.port}`,
        count: () => new Promise((r) => { child.once('message', (x: { count: number }) => r(x.count)); child.send({ cmd: 'count' }); }),
        trace: () => new Promise((r) => { child.once('message', () => r()); child.send({ cmd: 'trace' }); }),
        accepted: () => new Promise((r) => { child.once('message', (x: { accepted: Array<[string, number]> }) => r(new Map(x.accepted))); child.send({ cmd: 'accepted' }); }),
      });
    });
  });
}

/** CPU seconds a process has used so far (Linux /proc/<pid>/stat: utime + stime, at 100 ticks a second). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds the Redis server has used so far (INFO cpu). */
export async function redisCpuSeconds(runtime: Runtime): Promise<number> {
  const info = await runtime.redis.info('cpu');
  const get = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

export function runCeiling(url: string, messages: number, connections: number, inflight: number, file: string): Promise<{ rate: number; seconds: number }> {
  const child = fork(path.join(__dirname, 'ceiling.ts'), [url, String(messages), String(connections), String(inflight), file], { execArgv: tsxArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { rate: number; seconds: number }) => resolve(m));
    child.once('exit', (code) => code !== 0 && reject(new Error(`ceiling exited ${code}`)));
  });
}

/** Peak resident set of a process so far (Linux), in MB. */
export function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/**
 * Seeds confirmed readers of one newsletter through the real import path (`subscribers import
 * --confirmed`); `domain` picks reader i's address domain (pacing's mixed list), else the import's own.
 */
export async function seedSubscribers(runtime: Runtime, newsletterId: string, count: number, domain?: (i: number) => string): Promise<ImportReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-bench-readers-'));
  const file = path.join(dir, 'readers.csv');
  try {
    writeReadersCsv(file, count, newsletterId, domain);
    return await importCsv({ store: runtime.subscribers, file, knownNewsletters: runtime.config.newsletters.map((n) => n.id), defaultNewsletters: [newsletterId], confirmed: true, now: () => new Date() });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function writeConfig(config: LoadedConfig): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-bench-'));
  const raw = JSON.parse(fs.readFileSync(path.join(projectRoot, 'config', 'daybreak.json'), 'utf8')) as Record<string, unknown> & { newsletters: Array<Record<string, unknown>> };
  raw.newsletters = raw.newsletters.map((n) => ({ ...n, source: { sample: path.join(projectRoot, 'samples', 'business-news.json') } }));
  const file = path.join(dir, 'daybreak.json');
  // The worker runs as production does (NODE_ENV=production), on the sample stories, on purpose.
  fs.writeFileSync(file, JSON.stringify({ ...raw, allowSampleSources: true, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, smtpUrl: config.smtpUrl, secret: config.secret, delivery: config.delivery, pacing: config.pacing }, null, 2));
  return file;
}

