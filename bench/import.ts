/**
 * CSV import benchmark: generates a 100,000-row file, imports it (as `daybreak subscribers import
 * --confirmed` does) into a private key prefix on the local Redis, imports it again (the safe
 * re-run), prints rows/s, seconds and peak RSS, and cleans up.
 * Run: node --import tsx bench/import.ts [rows=100000]    (REDIS_URL, default 127.0.0.1:6379)
 * `npm run bench` calls runImportBench().
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { redisAnswers, startPrivateRedis, type PrivateRedis } from '../src/core/redis-server';
import { Runtime } from '../src/app/runtime';
import { importCsv, type ImportReport } from '../src/subscribers/csv';

const regions = ['north-east', 'north-west', 'yorkshire', 'midlands', 'london', 'scotland'];
const names = ['Ada', 'José Ñúñez', "Tom O'Neill", '李雷', 'Priya', '', 'Grace "G" Hopper'];

/** Writes the file in chunks (the generator must not hold 100,000 rows either). One row in 1,000 is bad. */
function writeCsv(file: string, rows: number): number {
  const fd = fs.openSync(file, 'w');
  let bad = 0;
  let chunk = 'email,name,newsletters\n';
  for (let i = 1; i <= rows; i++) {
    if (i % 1000 === 0) {
      bad++;
      chunk += `not-an-address-${i},Broken,national\n`;
    } else {
      const name = names[i % names.length] as string;
      const quoted = /[",]/.test(name) ? `"${name.replace(/"/g, '""')}"` : name;
      const lists = i % 3 === 0 ? `national;${regions[i % regions.length]}` : 'national';
      chunk += `Reader.${i}@Example${i % 97}.com,${quoted},${lists}\n`;
    }
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  return bad;
}

/** Peak RSS while `fn` runs, sampled every 50 ms (the process's lifetime peak says nothing when called from a bigger bench). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakRssMb: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(timer);
  }
}

export async function runImportBench(rows = 100_000): Promise<Record<string, number>> {
  let privateRedis: PrivateRedis | undefined;
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    privateRedis = await startPrivateRedis();
    redisUrl = privateRedis.url;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-import-bench-'));
  const file = path.join(dir, 'subscribers.csv');
  const config = loadConfig({ env: {}, overrides: { redisUrl, redisPrefix: `bench-import-${crypto.randomBytes(4).toString('hex')}`, secret: 'bench-secret-0123456789abcdef' } });
  const runtime = new Runtime(config, { logger: silentLogger });
  try {
    const bad = writeCsv(file, rows);
    const sizeMb = fs.statSync(file).size / 1024 / 1024;
    const run = () => importCsv({
      store: runtime.subscribers,
      file,
      knownNewsletters: config.newsletters.map((n) => n.id),
      defaultNewsletters: ['national'],
      confirmed: true,
      now: () => new Date(),
    });
    const rssBeforeMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
    const first = await withPeakRss(run);
    const second = await withPeakRss(run);
    const report: ImportReport = first.result;
    const members = await runtime.subscribers.countMembers('national');
    if (report.created !== rows - bad || report.invalid !== bad || members !== rows - bad) {
      throw new Error(`import bench: expected ${rows - bad} created and ${bad} invalid, got ${JSON.stringify({ ...report, issues: report.issues.length })} and ${members} national members`);
    }
    if (second.result.unchanged !== rows - bad || second.result.created + second.result.updated !== 0) {
      throw new Error(`import bench: the second run changed rows: ${JSON.stringify({ ...second.result, issues: second.result.issues.length })}`);
    }
    const figures = {
      rows,
      fileMb: Number(sizeMb.toFixed(1)),
      seconds: Number((report.ms / 1000).toFixed(2)),
      rowsPerSec: Math.round(rows / (report.ms / 1000)),
      rerunSeconds: Number((second.result.ms / 1000).toFixed(2)),
      rerunRowsPerSec: Math.round(rows / (second.result.ms / 1000)),
      badRowsReported: report.invalid,
      rssBeforeMb,
      peakRssMb: Math.max(first.peakRssMb, second.peakRssMb),
    };
    const line = (label: string, value: string) => console.log(`${label.padEnd(44)} ${value}`);
    console.log(`CSV import: ${rows.toLocaleString('en-GB')} rows (${figures.fileMb} MB), confirmed, into Redis at ${redisUrl}`);
    line('  first run (all new)', `${figures.seconds} s, ${figures.rowsPerSec.toLocaleString('en-GB')} rows/s, ${figures.badRowsReported} bad rows reported`);
    line('  second run (same file: nothing changes)', `${figures.rerunSeconds} s, ${figures.rerunRowsPerSec.toLocaleString('en-GB')} rows/s`);
    line('  RSS before / peak during import', `${figures.rssBeforeMb} MB / ${figures.peakRssMb} MB`);
    return figures;
  } finally {
    await runtime.deleteAllKeys();
    await runtime.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await privateRedis?.stop();
  }
}

if (require.main === module) {
  const rows = Number(process.argv[2] ?? 100_000);
  runImportBench(rows).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
