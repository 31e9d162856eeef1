/**
 * `npm run bench`: a whole edition for generated subscribers against a local SMTP sink, beside
 * the ceiling it competes with (pre-built messages through pooled nodemailer into the same sink).
 * Options: --sizes 10000,100000  --concurrency 100  --connections 5  --ceiling 20000  --skip-import  --from-source  --workers 1
 *          --pacing on|off (pacing per mailbox provider; on: limits no run reaches, so only its machinery costs)
 *          --domains mixed|single (readers spread over Gmail, Microsoft, Yahoo, Apple and others, the default; or the import's own)
 *          --in-doubt 10000 (sends in the in-doubt measurement)  --in-doubt-only (skip everything else)
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig, projectRoot, type LoadedConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { redisAnswers, startPrivateRedis, type PrivateRedis } from '../src/core/redis-server';
import { editionIdFor } from '../src/delivery/edition';
import { planEdition, editionHeaders } from '../src/delivery/build-edition';
import { enqueueEdition } from '../src/delivery/enqueue';
import { messageIdFor, messageValues } from '../src/mail/personalise';
import { runEditionNow, workersRunning } from '../src/ops/run-now';
import { createTransport, type MailTransport } from '../src/mail/transports';
import { Runtime } from '../src/app/runtime';
import { localDateOf } from '../src/delivery/schedule';
import { buildMimeTemplate, personaliseMessage, prepareMimeTemplate } from '../src/render/mime-template';
import { renderEdition } from '../src/render/render-edition';
import { cpuSeconds, editionBenchArgs, optionValue, peakRssMb, redisCpuSeconds, runCeiling, seedSubscribers, startSink, writeConfig, type EditionBenchArgs } from './harness';

/** The mixed list: 40% Gmail, 20% Microsoft, 10% Yahoo, 10% Apple, 20% everyone else (no MX lookups). */
const mixedDomains = ['gmail.com', 'gmail.com', 'gmail.com', 'gmail.com', 'outlook.com', 'hotmail.co.uk', 'yahoo.com', 'icloud.com', 'bench.example', 'bench.example'];
const mixedDomain = (i: number): string => mixedDomains[i % mixedDomains.length] as string;

type Args = EditionBenchArgs & { skipImport: boolean; nodeArgs: string[]; fromSource: boolean; workers: number; inDoubt: number; inDoubtOnly: boolean; pacing: boolean; domains: 'single' | 'mixed' };

function parseArgs(argv: string[]): Args {
  const get = (name: string) => optionValue(argv, name);
  return {
    ...editionBenchArgs(argv),
    skipImport: argv.includes('--skip-import'),
    // Extra node flags for the worker process, e.g. --node-args "--cpu-prof --cpu-prof-dir=/tmp/prof".
    nodeArgs: (get('node-args') ?? '').split(' ').filter(Boolean),
    // Run the worker through tsx from source instead of the compiled build.
    fromSource: argv.includes('--from-source'),
    workers: Number(get('workers') ?? 1),
    inDoubt: Number(get('in-doubt') ?? 10_000),
    inDoubtOnly: argv.includes('--in-doubt-only'),
    pacing: (get('pacing') ?? 'on') !== 'off',
    domains: get('domains') === 'single' ? 'single' : 'mixed',
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let privateRedis: PrivateRedis | undefined;
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    privateRedis = await startPrivateRedis();
    redisUrl = privateRedis.url;
  }
  // The worker runs compiled, as it does in production (the Docker image runs dist/): build it
  // first; bin/daybreak.js then picks dist/ (DAYBREAK_FROM_SOURCE=1 makes it run the sources).
  const workerEntry = path.join(projectRoot, 'bin', 'daybreak.js');
  if (!args.fromSource) execFileSync(process.execPath, [path.join(projectRoot, 'scripts', 'build.js')], { stdio: 'inherit' });
  const sink = await startSink();
  const results: Record<string, number | string> = { machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`.trim(), node: process.version };
  const print = (label: string, value: string) => console.log(`${label.padEnd(44)} ${value}`);
  console.log(`Daybreak benchmark (${results.machine}, Node ${process.version}); ${args.workers} worker process(es) at concurrency ${args.concurrency}, ${args.connections} pooled SMTP connections each; pacing ${args.pacing ? 'on' : 'off'}, ${args.domains} domains\n`);
  results.workers = args.workers;
  results.pacing = args.pacing ? 'on' : 'off';
  results.domains = args.domains;
  // Pacing on: every group limited far above any rate this machine reaches, and no ramp, so what it
  // costs is its machinery (a queue per group, queue limits, the pacer), never a limit that binds.
  const unbound = { perSecond: 1_000_000, connections: args.concurrency, rampFromPerSecond: 0 };
  const pacing = { enabled: args.pacing, providers: args.pacing ? { google: unbound, microsoft: unbound, yahoo: unbound, apple: unbound } : {} };
  const readerDomain = args.domains === 'mixed' ? mixedDomain : undefined;

  const base = loadConfig({ overrides: { redisUrl, smtpUrl: sink.url, redisPrefix: `bench-${crypto.randomBytes(3).toString('hex')}`, pacing, delivery: { concurrency: args.concurrency, smtpMaxConnections: args.connections, attempts: 6, backoffMs: 1000, fanoutPageSize: Number(process.env.BENCH_PAGE ?? 1000), lockDurationMs: 30_000, stalledIntervalMs: 30_000 } } });
  const runtime = new Runtime(base, { logger: silentLogger });
  const newsletter = base.newsletters[0];

  // Once per edition: render and MIME template, on the shipped sample feed.
  const localDate = localDateOf(new Date(), newsletter.timezone);
  const plan = await planEdition(runtime, { id: editionIdFor(newsletter.id, localDate), newsletterId: newsletter.id, localDate, scheduledFor: new Date() });
  await renderEdition(plan.content); // warm-up
  const mjml: number[] = [];
  let rendered = await renderEdition(plan.content);
  for (let i = 0; i < 10; i++) { rendered = await renderEdition(plan.content); mjml.push(rendered.timings.mjmlMs); }
  mjml.sort((a, b) => a - b);
  const template = prepareMimeTemplate(buildMimeTemplate(rendered, editionHeaders(runtime, newsletter, rendered.subject)));
  results.mjmlCompileMs = Number(mjml[5].toFixed(1));
  print('MJML compile per edition (median of 10)', `${results.mjmlCompileMs} ms`);

  // Per message: tokens, URLs, and splicing values into the pre-built MIME.
  const samples = 20_000;
  let sample: Buffer = Buffer.alloc(0);
  const t0 = performance.now();
  for (let i = 0; i < samples; i++) {
    const values = messageValues({ publicUrl: base.publicUrl, signer: runtime.signer, subscriberId: String(i), email: `reader-${i}@bench.example`, name: 'Reader Name', messageId: messageIdFor('national-bench', String(i), 'daybreak.example', 'abcdef12'), date: new Date() });
    sample = personaliseMessage(template, values);
  }
  results.personaliseUs = Number((((performance.now() - t0) * 1000) / samples).toFixed(1));
  results.messageBytes = sample.length;
  print('Personalisation per message (tokens + splice)', `${results.personaliseUs} µs (${(sample.length / 1024).toFixed(1)} KB message)`);

  // The ceiling: the same-size message, pre-built, straight into the sink.
  const messageFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-msg-')), 'message.eml');
  fs.writeFileSync(messageFile, sample);
  const ceiling = args.inDoubtOnly ? { rate: Number.NaN, seconds: 0 } : await runCeiling(sink.url, args.ceiling, args.connections, args.concurrency, messageFile);
  results.ceilingRate = Math.round(ceiling.rate);
  print(`Ceiling: ${args.ceiling} pre-built messages, pooled SMTP`, `${results.ceilingRate} messages/s`);
  console.log('');

  for (const size of args.inDoubtOnly ? [] : args.sizes) {
    const prefix = `${base.redisPrefix}-${size}`;
    const config: LoadedConfig = { ...base, redisPrefix: prefix };
    const rt = new Runtime(config, { logger: silentLogger });
    await rt.deleteAllKeys();
    await seedSubscribers(rt, newsletter.id, size, readerDomain);
    const configFile = writeConfig(config);
    const workers = Array.from({ length: args.workers }, () => spawn(process.execPath, [...args.nodeArgs, workerEntry, 'worker', '--concurrency', String(args.concurrency)], {
      env: { ...process.env, DAYBREAK_CONFIG: configFile, REDIS_URL: config.redisUrl, LOG_LEVEL: 'warn', NODE_ENV: 'production', DAYBREAK_SECRET: config.secret, ...(args.fromSource ? { DAYBREAK_FROM_SOURCE: '1' } : {}) },
      stdio: ['ignore', 'inherit', 'inherit'],
    }));
    while ((await rt.queues.send(newsletter.id).getWorkersCount()) < args.workers || !(await workersRunning(rt, newsletter.id))) await new Promise((r) => setTimeout(r, 100));
    const before = await sink.count();
    const cpuBefore = workers.map((w) => cpuSeconds(w.pid as number));
    const redisCpuBefore = await redisCpuSeconds(rt);
    const started = performance.now();
    const { edition } = await enqueueEdition(rt, { newsletterId: newsletter.id, localDate, trigger: 'manual' });
    let rssAtEnd = 0;
    for (;;) {
      const e = await rt.editions.get(edition.id);
      if (e && (e.state === 'done' || e.state === 'failed' || e.state === 'skipped')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    rssAtEnd = Math.max(...workers.map((w) => peakRssMb(w.pid as number)));
    // CPU per message: steadier than the rate on a machine shared with other work (the rate and the
    // ceiling both move with what else runs; the CPU a message costs hardly does).
    const workerCpu = workers.reduce((sum, w, i) => sum + cpuSeconds(w.pid as number) - (cpuBefore[i] as number), 0);
    const redisCpu = (await redisCpuSeconds(rt)) - redisCpuBefore;
    const done = (await rt.editions.get(edition.id))!;
    const delivered = (await sink.count()) - before;
    const fanoutMs = Number(await rt.redis.hget(rt.keys.edition(edition.id), 'fanoutMs'));
    // From queueing to the first send being possible: sandboxed child start, feed, pick, MJML, store.
    const buildMs = (done.startedAt?.getTime() ?? 0) - done.createdAt.getTime();
    await Promise.all(workers.map((w) => { const exited = new Promise((r) => w.once('exit', r)); w.kill('SIGTERM'); return exited; }));
    const rate = done.sent / seconds;
    const k = `${size / 1000}k`;
    results[`e2eRate_${k}`] = Math.round(rate);
    results[`e2eSeconds_${k}`] = Number(seconds.toFixed(1));
    results[`fanoutSeconds_${k}`] = Number((fanoutMs / 1000).toFixed(2));
    results[`workerPeakRssMb_${k}`] = Math.round(rssAtEnd);
    results[`ratio_${k}`] = Number((rate / ceiling.rate).toFixed(2));
    print(`Edition to ${size.toLocaleString('en-GB')} subscribers`, `${done.state}: ${done.sent} sent, ${done.failed} failed, ${delivered} at the sink`);
    results[`buildSeconds_${k}`] = Number((buildMs / 1000).toFixed(2));
    print('  build (queued -> rendered and stored)', `${results[`buildSeconds_${k}`]} s`);
    print('  fan-out', `${results[`fanoutSeconds_${k}`]} s`);
    print('  end to end', `${results[`e2eSeconds_${k}`]} s, ${results[`e2eRate_${k}`]} messages/s`);
    print('  ratio to ceiling', `${Math.round((rate / ceiling.rate) * 100)}%`);
    results[`workerCpuUsPerMessage_${k}`] = Math.round((workerCpu * 1e6) / Math.max(1, done.sent));
    results[`redisCpuUsPerMessage_${k}`] = Math.round((redisCpu * 1e6) / Math.max(1, done.sent));
    print('  CPU per message: worker, Redis', `${results[`workerCpuUsPerMessage_${k}`]} µs, ${results[`redisCpuUsPerMessage_${k}`]} µs${privateRedis ? '' : ' (Redis shared with whatever else uses it)'}`);
    print(`  worker peak RSS${args.workers > 1 ? ` (largest of ${args.workers})` : ''}`, `${results[`workerPeakRssMb_${k}`]} MB`);
    await rt.deleteAllKeys();
    await rt.close();
  }

  // The issue's targets for the largest edition run, checked against what was just measured.
  const largest = Math.max(...args.sizes);
  const lk = `${largest / 1000}k`;
  if (largest >= 100_000 && !args.inDoubtOnly) {
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const rssOk = args.sizes.every((size) => Number(results[`workerPeakRssMb_${size / 1000}k`]) < 300);
    console.log('');
    print(`Targets at ${largest.toLocaleString('en-GB')}`, '');
    print('  under 2 minutes end to end', `${verdict(Number(results[`e2eSeconds_${lk}`]) < 120)} (${results[`e2eSeconds_${lk}`]} s)`);
    print('  at least 70% of the ceiling', `${verdict(Number(results[`ratio_${lk}`]) >= 0.7)} (${Math.round(Number(results[`ratio_${lk}`]) * 100)}%)`);
    print('  worker peak RSS under 300 MB at every size', `${verdict(rssOk)} (${args.sizes.map((size) => `${results[`workerPeakRssMb_${size / 1000}k`]} MB`).join(', ')})`);
  }

  // The in-doubt window: from the SMTP server answering 250 to the ledger's "sent" write being
  // acknowledged by Redis. A crash inside it is the one case that can mail a reader twice. Measured
  // from the sink's side (when it answered, in its own process) to the worker's (when the record
  // came back), over a whole edition sent at full speed with the real batch windows, so the
  // worker's event-loop lag under load is inside the figure, as it is for a kill -9.
  {
    const n = args.inDoubt;
    const prefix = `${base.redisPrefix}-window`;
    const resolvedAt = new Map<string, number>();
    const recordedAt = new Map<string, number>();
    const wall = () => performance.timeOrigin + performance.now();
    const inner = createTransport({ ...base, redisPrefix: prefix });
    const timing: MailTransport = {
      description: inner.description,
      send: async (m) => { const r = await inner.send(m); resolvedAt.set(m.subscriberId, wall()); return r; },
      verify: () => inner.verify(),
      close: () => inner.close(),
    };
    const rt = new Runtime({ ...base, redisPrefix: prefix }, { logger: silentLogger, transport: timing });
    // Its keys go whatever happens (a crash here once left 20,000 behind in the shared Redis).
    try {
      // Each reader's address, as sent (readers are spread over providers' domains by default).
      const addressOf = new Map<string, string>();
      rt.outcomes.subscribe('sent', (e) => { recordedAt.set(e.subscriberId, wall()); addressOf.set(e.subscriberId, e.email); });
      // Where the time goes: when the record was asked for, and how late the event loop ran.
      const settleCalledAt = new Map<string, number>();
      const settle = rt.editions.settle.bind(rt.editions);
      rt.editions.settle = (editionId, subscriberId, kind, detail, now) => {
        if (kind === 's') settleCalledAt.set(subscriberId, wall());
        return settle(editionId, subscriberId, kind, detail, now);
      };
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      await rt.deleteAllKeys();
      await seedSubscribers(rt, newsletter.id, n, readerDomain);
      await sink.trace();
      const result = await runEditionNow(rt, { newsletterId: newsletter.id, localDate, concurrency: args.concurrency });
      loopDelay.disable();
      const accepted = await sink.accepted();
      const fromServer: number[] = [];
      const fromClient: number[] = [];
      const inSettle: number[] = [];
      for (const [id, recorded] of recordedAt) {
        const called = settleCalledAt.get(id);
        if (called !== undefined) inSettle.push(recorded - called);
        const at = accepted.get(addressOf.get(id) ?? '');
        if (at !== undefined) fromServer.push(recorded - at);
        const resolved = resolvedAt.get(id);
        if (resolved !== undefined) fromClient.push(recorded - resolved);
      }
      const quantiles = (values: number[]) => {
        values.sort((a, b) => a - b);
        const q = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))] as number;
        return { p50: Number(q(0.5).toFixed(2)), p99: Number(q(0.99).toFixed(2)), max: Number((values[values.length - 1] as number).toFixed(2)) };
      };
      const server = quantiles(fromServer);
      const client = quantiles(fromClient);
      const recording = quantiles(inSettle);
      results.inDoubtWindowP50Ms = server.p50;
      results.inDoubtWindowP99Ms = server.p99;
      results.inDoubtWindowMaxMs = server.max;
      results.inDoubtClientP50Ms = client.p50;
      results.inDoubtClientP99Ms = client.p99;
      const rate = result.edition.sent / (result.ms / 1000);
      results.inDoubtSendRate = Math.round(rate);
      // Expected copies in doubt if a worker dies at a random moment: messages per second x mean window.
      const mean = fromServer.reduce((a, b) => a + b, 0) / Math.max(1, fromServer.length);
      results.inDoubtExpectedPerCrash = Number(((rate * mean) / 1000).toFixed(2));
      console.log('');
      print(`In-doubt window over ${fromServer.length} sends (250 -> recorded)`, `p50 ${server.p50} ms, p99 ${server.p99} ms, max ${server.max} ms`);
      print('  of which after send() resolved', `p50 ${client.p50} ms, p99 ${client.p99} ms, max ${client.max} ms`);
      print('  of which the record (batch wait + Lua)', `p50 ${recording.p50} ms, p99 ${recording.p99} ms, max ${recording.max} ms`);
      print('  event-loop delay meanwhile', `p50 ${(loopDelay.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(2)} ms, max ${(loopDelay.max / 1e6).toFixed(2)} ms`);
      results.inDoubtRecordP99Ms = recording.p99;
      results.eventLoopDelayP99Ms = Number((loopDelay.percentile(99) / 1e6).toFixed(2));
      print('  copies in doubt per crash at that rate', `${results.inDoubtExpectedPerCrash} (at ${Math.round(rate)} messages/s, mean window ${mean.toFixed(1)} ms)`);
    } finally {
      await rt.deleteAllKeys();
      await rt.close();
    }
  }

  if (!args.skipImport && !args.inDoubtOnly) {
    const importBench = path.join(__dirname, 'import.ts');
    if (fs.existsSync(importBench)) {
      const mod = (await import(importBench)) as { runImportBench?: () => Promise<Record<string, number>> };
      if (mod.runImportBench) {
        console.log('');
        const figures = await mod.runImportBench();
        for (const [key, value] of Object.entries(figures)) results[`import_${key}`] = value;
      }
    }
  }

  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nFigures written to bench/results/latest.json`);
  await runtime.deleteAllKeys();
  await runtime.close();
  sink.child.send({ cmd: 'stop' });
  await privateRedis?.stop();
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
