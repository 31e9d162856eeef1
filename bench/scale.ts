/**
 * A year of mornings at scale: for each size, a private redis-server of its own (the shared one is
 * never filled), N readers seeded through the real import path, one edition sent by a compiled
 * `daybreak worker` into the local sink, then compacted; prints import rows/s, Redis bytes per
 * subscriber, fan-out seconds, worker peak RSS, end-to-end messages/s beside the same-run ceiling,
 * ledger bytes per reader before and after compaction, and the Redis memory projected for 365
 * daily editions at that size.
 * Run: node --import tsx bench/scale.ts --sizes 10000,100000,1000000 [--concurrency 100] [--connections 5] [--ceiling 20000]
 * Figures go to bench/results/scale.json (and docs/performance.md, docs/scaling.md by hand).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { loadConfig, projectRoot } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { startPrivateRedis } from '../src/core/redis-server';
import { editionHeaders, planEdition } from '../src/delivery/build-edition';
import { editionIdFor } from '../src/delivery/edition';
import { enqueueEdition } from '../src/delivery/enqueue';
import { localDateOf } from '../src/delivery/schedule';
import { messageIdFor, messageValues } from '../src/mail/personalise';
import { workersRunning } from '../src/ops/run-now';
import { Runtime } from '../src/app/runtime';
import { buildMimeTemplate, personaliseMessage, prepareMimeTemplate } from '../src/render/mime-template';
import { renderEdition } from '../src/render/render-edition';
import { editionBenchArgs, peakRssMb, runCeiling, seedSubscribers, startSink, writeConfig } from './harness';
import { measureSubscriberMemory } from './subscriber-memory';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const gb = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GB` : mb(bytes));

async function info(redis: Redis, field: string): Promise<number> {
  return Number(new RegExp(`${field}:(\\d+)`).exec(await redis.info('memory'))?.[1] ?? 0);
}

async function usage(redis: Redis, key: string): Promise<number> {
  // SAMPLES 0: every element counted (exact, O(n): a 1M-entry ledger takes about a second).
  return Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}

async function main(): Promise<void> {
  const args = editionBenchArgs(process.argv.slice(2));
  const print = (label: string, value: string) => console.log(`${label.padEnd(52)} ${value}`);
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const results: Record<string, unknown> = { machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`.trim(), node: process.version, startedAt: new Date().toISOString(), loadAtStart: load() };
  console.log(`Daybreak at scale (${results.machine}, Node ${process.version}), load average ${load()}; one worker at concurrency ${args.concurrency}, ${args.connections} pooled SMTP connections\n`);
  execFileSync(process.execPath, [path.join(projectRoot, 'scripts', 'build.js')], { stdio: 'inherit' });
  const workerEntry = path.join(projectRoot, 'bin', 'daybreak.js');
  const sink = await startSink();

  // The ceiling, in the same run: the edition's real message, pre-built, pushed into the same sink.
  const scratch = loadConfig({ overrides: { redisPrefix: 'bench-scale-scratch', smtpUrl: sink.url } });
  const scratchRuntime = new Runtime(scratch, { logger: silentLogger });
  const newsletter = scratch.newsletters[0];
  const localDate = localDateOf(new Date(), newsletter.timezone);
  const plan = await planEdition(scratchRuntime, { id: editionIdFor(newsletter.id, localDate), newsletterId: newsletter.id, localDate, scheduledFor: new Date() });
  const rendered = await renderEdition(plan.content);
  const template = prepareMimeTemplate(buildMimeTemplate(rendered, editionHeaders(scratchRuntime, newsletter, rendered.subject)));
  const sample = personaliseMessage(template, messageValues({ publicUrl: scratch.publicUrl, signer: scratchRuntime.signer, subscriberId: '1', email: 'reader.1@example1.com', name: 'Reader Name', messageId: messageIdFor('national-bench', '1', 'daybreak.example', 'abcdef123456'), date: new Date() }));
  scratchRuntime.redis.disconnect();
  const messageFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-scale-msg-')), 'message.eml');
  fs.writeFileSync(messageFile, sample);
  console.log(`Message: ${(sample.length / 1024).toFixed(1)} KB; each size's ceiling is measured right before it (the load of a shared machine moves between sizes)`);

  for (const size of args.sizes) {
    console.log('');
    const ceiling = await runCeiling(sink.url, args.ceiling, args.connections, args.concurrency, messageFile);
    print(`Ceiling: ${args.ceiling.toLocaleString('en-GB')} pre-built messages, pooled SMTP`, `${Math.round(ceiling.rate)} messages/s`);
    const started = performance.now();
    const redis = await startPrivateRedis();
    const config = loadConfig({ overrides: { redisUrl: redis.url, redisPrefix: 'daybreak', smtpUrl: sink.url, delivery: { concurrency: args.concurrency, smtpMaxConnections: args.connections, attempts: 6, backoffMs: 1000, fanoutPageSize: 1000, lockDurationMs: 30_000, stalledIntervalMs: 30_000 } } });
    const rt = new Runtime(config, { logger: silentLogger });
    const k = size >= 1_000_000 ? `${size / 1_000_000}M` : `${size / 1000}k`;
    const r: Record<string, number | string> = { size, loadAtStart: load(), ceilingRate: Math.round(ceiling.rate) };
    try {
      // Readers, through the real import path.
      const before = await info(rt.redis, 'used_memory');
      const imported = await seedSubscribers(rt, newsletter.id, size);
      r.importRowsPerSec = Math.round(size / (imported.ms / 1000));
      const memory = await measureSubscriberMemory(rt.redis, 'daybreak', size, 500);
      r.bytesPerSubscriber = Math.round(memory.perReader);
      r.usedMemoryPerSubscriber = Math.round(((await info(rt.redis, 'used_memory')) - before) / size);
      print(`${size.toLocaleString('en-GB')} readers imported`, `${(imported.ms / 1000).toFixed(1)} s, ${Number(r.importRowsPerSec).toLocaleString('en-GB')} rows/s`);
      print('  Redis bytes per subscriber (MEMORY USAGE / used_memory)', `${r.bytesPerSubscriber} B / ${r.usedMemoryPerSubscriber} B`);

      // The edition, sent by a compiled worker process into the sink.
      const configFile = writeConfig(config);
      const worker = spawn(process.execPath, [workerEntry, 'worker', '--concurrency', String(args.concurrency)], {
        env: { ...process.env, DAYBREAK_CONFIG: configFile, LOG_LEVEL: 'warn', NODE_ENV: 'production', DAYBREAK_SECRET: config.secret },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      while ((await rt.queues.send(newsletter.id).getWorkersCount()) < 1 || !(await workersRunning(rt, newsletter.id))) await new Promise((res) => setTimeout(res, 100));
      const atSinkBefore = await sink.count();
      const t0 = performance.now();
      const { edition } = await enqueueEdition(rt, { newsletterId: newsletter.id, localDate, trigger: 'manual' });
      let lastReport = Date.now();
      for (;;) {
        const e = await rt.editions.get(edition.id);
        if (e && ['done', 'failed', 'skipped'].includes(e.state)) break;
        if (Date.now() - lastReport > 30_000 && e) {
          console.log(`  ... ${e.sent.toLocaleString('en-GB')} of ${e.total.toLocaleString('en-GB')} sent (${((performance.now() - t0) / 1000).toFixed(0)} s, load ${load()})`);
          lastReport = Date.now();
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      const seconds = (performance.now() - t0) / 1000;
      r.workerPeakRssMb = Math.round(peakRssMb(worker.pid as number));
      await new Promise((res) => { worker.once('exit', res); worker.kill('SIGTERM'); });
      const done = (await rt.editions.get(edition.id))!;
      r.delivered = (await sink.count()) - atSinkBefore;
      r.sent = done.sent;
      r.fanoutSeconds = Number(((done.fanoutMs ?? 0) / 1000).toFixed(1));
      r.e2eSeconds = Number(seconds.toFixed(1));
      r.e2eRate = Math.round(done.sent / seconds);
      r.ratioToCeiling = Number((done.sent / seconds / ceiling.rate).toFixed(2));
      r.redisPeakMb = Math.round((await info(rt.redis, 'used_memory_peak')) / 1024 / 1024);
      print(`  edition: ${done.state}`, `${done.sent.toLocaleString('en-GB')} sent, ${done.failed} failed, ${Number(r.delivered).toLocaleString('en-GB')} at the sink`);
      print('  fan-out', `${r.fanoutSeconds} s`);
      print('  end to end', `${r.e2eSeconds} s, ${r.e2eRate} messages/s, ${Math.round(Number(r.ratioToCeiling) * 100)}% of the ceiling`);
      print('  worker peak RSS', `${r.workerPeakRssMb} MB`);
      print('  Redis peak (subscribers, ledger, queued jobs)', `${r.redisPeakMb} MB`);

      // The edition's keys, then compaction.
      const keys = { hash: rt.keys.edition(edition.id), content: rt.keys.editionContent(edition.id), mime: rt.keys.editionMime(edition.id), history: rt.keys.editionHistory(edition.id) };
      const kept = (await usage(rt.redis, keys.hash)) + (await usage(rt.redis, keys.content)) + (await usage(rt.redis, keys.history));
      const mime = await usage(rt.redis, keys.mime);
      const ledgerBefore = await usage(rt.redis, rt.keys.ledger(edition.id));
      const compaction = await rt.editions.compactLedger(edition.id, new Date());
      const ledgerAfter = (await usage(rt.redis, rt.keys.ledger(edition.id))) + (await usage(rt.redis, rt.keys.ledgerSent(edition.id)));
      r.ledgerBytesPerReaderBefore = Number((ledgerBefore / size).toFixed(1));
      r.ledgerBytesPerReaderAfter = Number((ledgerAfter / size).toFixed(3));
      r.compactionSeconds = Number((compaction.ms / 1000).toFixed(1));
      r.editionKeptBytes = kept;
      r.mimeBytes = mime;
      print('  ledger per reader, before / after compaction', `${r.ledgerBytesPerReaderBefore} B / ${r.ledgerBytesPerReaderAfter} B (${mb(ledgerBefore)} -> ${(ledgerAfter / 1024).toFixed(1)} KB, compacted in ${r.compactionSeconds} s)`);
      print('  kept per edition for good (hash, history, archive page)', `${(kept / 1024).toFixed(1)} KB; MIME template until the retention ${(mime / 1024).toFixed(1)} KB`);

      // A year of daily editions: the subscribers, 7 editions still inside their settle window, 358 compacted (all within the 400-day retention).
      const subscribers = Number(r.bytesPerSubscriber) * size;
      const live = ledgerBefore + mime + kept;
      const compacted = ledgerAfter + mime + kept;
      r.projected365Bytes = subscribers + 7 * live + 358 * compacted;
      r.projected365BytesBefore = 1385 * size + 365 * (122 * size + mime + kept);
      print('  Redis projected after 365 daily editions', `${gb(Number(r.projected365Bytes))} (subscribers ${gb(subscribers)}, 7 live ledgers ${gb(7 * live)}, 358 compacted ${gb(358 * compacted)}); before this design ${gb(Number(r.projected365BytesBefore))}`);
      r.totalSeconds = Number(((performance.now() - started) / 1000).toFixed(0));
      r.loadAtEnd = load();
      print('  this size took', `${r.totalSeconds} s (load average ${r.loadAtStart} at start, ${r.loadAtEnd} at the end)`);
      results[k] = r;
    } finally {
      rt.redis.disconnect();
      await redis.stop();
    }
  }

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'scale.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nFigures written to bench/results/scale.json');
  sink.child.send({ cmd: 'stop' });
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
