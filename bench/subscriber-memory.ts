/**
 * Redis bytes per subscriber: imports N confirmed readers with one newsletter through the real
 * import path (`daybreak subscribers import --confirmed`) into a private redis-server, then reports
 * the bytes each key family costs per reader, by MEMORY USAGE over a sample of per-reader keys plus
 * the shared keys divided by N, beside the server's own used_memory growth divided by N.
 * Run: node --import tsx bench/subscriber-memory.ts [readers=20000] [sample=500]
 * bench/scale.ts calls measureSubscriberMemory() on its own data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { startPrivateRedis } from '../src/core/redis-server';
import { Runtime } from '../src/app/runtime';
import { importCsv } from '../src/subscribers/csv';

/** A CSV of confirmed readers on one newsletter, written in chunks (memory stays flat at any size). */
export function writeReadersCsv(file: string, readers: number, newsletters = 'national', domain: (i: number) => string = (i) => `example${i % 97}.com`): void {
  const fd = fs.openSync(file, 'w');
  const names = ['Ada Lovelace', 'José Ñúñez', "Tom O'Neill", '李雷', 'Priya Raman', '', 'Grace Hopper'];
  let chunk = 'email,name,newsletters\n';
  for (let i = 1; i <= readers; i++) {
    chunk += `reader.${i}@${domain(i)},${names[i % names.length]},${newsletters}\n`;
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

export interface SubscriberMemory {
  readers: number;
  /** MEMORY USAGE summed by key family, per reader. */
  byFamily: Record<string, number>;
  /** Sum of byFamily. */
  perReader: number;
  /** used_memory growth of the server divided by the readers (includes the main dictionary's own overhead). */
  usedMemoryPerReader?: number;
}

/** The family a key belongs to: its name with ids and newsletter names replaced by placeholders. */
export function familyOf(prefix: string, key: string): string {
  return key.slice(prefix.length + 1).replace(/^sub:\d+/, 'sub:<id>').replace(/^nl:[^:]+:/, 'nl:<nl>:');
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/**
 * Bytes per reader: every key under the prefix but BullMQ's and editions', per-reader keys
 * (`sub:<id>...`) sampled and scaled, shared keys (indexes, member sets) measured whole.
 */
export async function measureSubscriberMemory(redis: Redis, prefix: string, readers: number, sample = 500): Promise<SubscriberMemory> {
  const perReaderKeys = new Map<string, { bytes: number; keys: number; sampled: number }>();
  const family = (key: string) => {
    const name = familyOf(prefix, key);
    let f = perReaderKeys.get(name);
    if (!f) perReaderKeys.set(name, (f = { bytes: 0, keys: 0, sampled: 0 }));
    return f;
  };
  const shared = new Map<string, number>();
  const sampled = new Set<number>();
  const step = Math.max(1, Math.floor(readers / sample));
  for (let id = 1; id <= readers; id += step) sampled.add(id);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    const wanted: string[] = [];
    for (const key of keys) {
      const rest = key.slice(prefix.length + 1);
      if (rest.startsWith('bull:') || rest.startsWith('ed:') || rest === 'editions' || rest.endsWith(':editions') || rest.endsWith(':sent-articles')) continue;
      const m = /^sub:(\d+)/.exec(rest);
      if (m && !sampled.has(Number(m[1]))) {
        family(key).keys += 1;
        continue;
      }
      wanted.push(key);
    }
    if (wanted.length) {
      const p = redis.pipeline();
      for (const key of wanted) p.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      const sizes = (await p.exec()) ?? [];
      wanted.forEach((key, i) => {
        const bytes = Number(sizes[i]?.[1] ?? 0);
        if (/^sub:\d+/.test(key.slice(prefix.length + 1))) {
          const f = family(key);
          f.keys += 1;
          f.sampled += 1;
          f.bytes += bytes;
        } else shared.set(familyOf(prefix, key), (shared.get(familyOf(prefix, key)) ?? 0) + bytes);
      });
    }
  } while (cursor !== '0');
  const byFamily: Record<string, number> = {};
  for (const [name, f] of perReaderKeys) {
    // Average bytes of the sampled keys, times how many such keys exist, per reader.
    if (f.sampled > 0) byFamily[name] = ((f.bytes / f.sampled) * f.keys) / readers;
  }
  for (const [name, bytes] of shared) byFamily[name] = bytes / readers;
  const perReader = Object.values(byFamily).reduce((a, b) => a + b, 0);
  return { readers, byFamily, perReader };
}

async function main(): Promise<void> {
  const readers = Number(process.argv[2] ?? 20_000);
  const sample = Number(process.argv[3] ?? 500);
  const redis = await startPrivateRedis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-memory-bench-'));
  const file = path.join(dir, 'readers.csv');
  // A private server: the production default prefix, so key names are as long as an install's.
  const prefix = 'daybreak';
  const config = loadConfig({ env: {}, overrides: { redisUrl: redis.url, redisPrefix: prefix, secret: 'bench-secret-0123456789abcdef' } });
  const runtime = new Runtime(config, { logger: silentLogger });
  try {
    writeReadersCsv(file, readers);
    const before = await usedMemory(runtime.redis);
    const report = await importCsv({ store: runtime.subscribers, file, knownNewsletters: config.newsletters.map((n) => n.id), defaultNewsletters: ['national'], confirmed: true, now: () => new Date() });
    const after = await usedMemory(runtime.redis);
    const memory = await measureSubscriberMemory(runtime.redis, prefix, readers, sample);
    memory.usedMemoryPerReader = (after - before) / readers;
    console.log(`Redis bytes per confirmed subscriber with one newsletter: ${readers.toLocaleString('en-GB')} imported (${Math.round(readers / (report.ms / 1000)).toLocaleString('en-GB')} rows/s), MEMORY USAGE over ${sample} sampled readers`);
    for (const [family, bytes] of Object.entries(memory.byFamily).sort((a, b) => b[1] - a[1])) console.log(`  ${family.padEnd(40)} ${bytes.toFixed(1).padStart(8)} B`);
    console.log(`  ${'total (MEMORY USAGE)'.padEnd(40)} ${memory.perReader.toFixed(1).padStart(8)} B`);
    console.log(`  ${'used_memory growth / readers'.padEnd(40)} ${memory.usedMemoryPerReader.toFixed(1).padStart(8)} B`);
  } finally {
    await runtime.close();
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
