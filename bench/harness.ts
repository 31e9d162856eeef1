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

export function startSink(): Promise<{ child: ChildProcess; url: string; count(): Promise<number> }> {
  const child = fork(path.join(__dirname, 'sink.ts'), [], { execArgv: tsxArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => {
    child.once('message', (m: { port: number }) => {
      resolve({
        child,
        url: `smtp://127.0.0.1:${m.port}`,
        count: () => new Promise((r) => { child.once('message', (x: { count: number }) => r(x.count)); child.send({ cmd: 'count' }); }),
      });
    });
  });
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

/** Seeds confirmed readers of one newsletter through the real import path (`subscribers import --confirmed`). */
export async function seedSubscribers(runtime: Runtime, newsletterId: string, count: number): Promise<ImportReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-bench-readers-'));
  const file = path.join(dir, 'readers.csv');
  try {
    writeReadersCsv(file, count, newsletterId);
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
  fs.writeFileSync(file, JSON.stringify({ ...raw, allowSampleSources: true, redisUrl: config.redisUrl, redisPrefix: config.redisPrefix, smtpUrl: config.smtpUrl, secret: config.secret, delivery: config.delivery }, null, 2));
  return file;
}

