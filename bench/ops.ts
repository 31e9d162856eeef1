/**
 * Ops commands at scale: plans `resend --unsent` / `--failed` over a 100,000-reader edition, reads
 * `status`, scrapes `/metrics`. Seeds synthetic records straight into Redis under its own prefix
 * (removed afterwards); no mail is sent. Run: node --expose-gc --import tsx bench/ops.ts [readers]
 */
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { createMetricsRegistry } from '../src/ops/metrics';
import { planResend } from '../src/ops/resend';
import { Runtime } from '../src/app/runtime';
import { editionStatus } from '../src/ops/status';

async function main(): Promise<void> {
  const readers = Number(process.argv[2] ?? 100_000);
  const prefix = `bench-ops-${process.pid}`;
  const runtime = new Runtime(loadConfig({ overrides: { redisPrefix: prefix, secret: 'bench-secret-0123456789abcdef' } }), { logger: silentLogger });
  const id = 'national-2026-11-24';
  const k = runtime.keys;
  try {
    const now = Date.now();
    for (let start = 1; start <= readers; start += 5000) {
      const p = runtime.redis.pipeline();
      for (let i = start; i < Math.min(start + 5000, readers + 1); i++) {
        // The stored form (src/subscribers/stored-form.ts): short fields, membership as a bit.
        p.hset(k.subscriber(String(i)), { e: `r${i}@example.com`, s: 'c', l: 'national', h: `h${i}`, t: now, u: 0, f: 0 });
        p.setbit(k.members('national'), i, 1);
        // 60% sent, 1% failed, the rest still queued: an edition that crashed at 60%.
        const v = i % 100 === 0 ? `f|${now}|421 4.4.2 timeout` : i % 10 < 6 ? `s|${now}|<m${i}@x>` : `q|${now}`;
        p.hset(k.ledger(id), String(i), v);
      }
      await p.exec();
    }
    await runtime.redis.hset(k.edition(id), { id, newsletterId: 'national', localDate: '2026-11-24', state: 'sending', trigger: 'manual', scheduledFor: now, createdAt: now, startedAt: now, total: readers, sent: Math.round(readers * 0.6), failed: readers / 100, skipped: 0, fanoutDone: 1 });
    await runtime.redis.zadd(k.editionsOf('national'), now, id);
    await runtime.redis.zadd(k.allEditions(), now, id);

    const time = async <T>(label: string, fn: () => Promise<T>, describe: (r: T) => string) => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      const t = performance.now();
      const r = await fn();
      const ms = performance.now() - t;
      gc?.();
      // Heap still held by the result (the plan's target list), with --expose-gc.
      const held = gc ? `, result holds ${Math.max(0, Math.round((process.memoryUsage().heapUsed - heap0) / 1e6))} MB of heap` : '';
      console.log(`${label.padEnd(24)} ${ms.toFixed(0).padStart(6)} ms  ${describe(r)}${held}`);
    };
    console.log(`edition of ${readers.toLocaleString('en-GB')} readers: 60% sent, 1% failed, the rest queued`);
    await time('plan resend --unsent', () => planResend(runtime, id, { unsent: true }), (p) => `${p.targets.length.toLocaleString('en-GB')} targets`);
    await time('plan resend --failed', () => planResend(runtime, id, { failed: true }), (p) => `${p.targets.length.toLocaleString('en-GB')} targets`);
    await time('status', () => editionStatus(runtime, id), (s) => `${s.counts.pending.toLocaleString('en-GB')} pending`);
    const registry = createMetricsRegistry(runtime, { processMetrics: false });
    await time('metrics scrape', () => registry.metrics(), (text) => `${text.length.toLocaleString('en-GB')} bytes`);
  } finally {
    await runtime.deleteAllKeys();
    await runtime.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
