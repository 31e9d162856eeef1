/**
 * `npm run bench`: a whole edition for generated subscribers against a local SMTP sink, beside
 * the ceiling it competes with (pre-built messages through pooled nodemailer into the same sink).
 * Options: --sizes 10000,100000  --concurrency 100  --connections 5  --ceiling 20000  --skip-import  --from-source  --workers 1
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
import { peakRssMb, runCeiling, seedSubscribers, startSink, writeConfig } from './harness';

type Args = { sizes: number[]; concurrency: number; connections: number; ceiling: number; skipImport: boolean; nodeArgs: string[]; fromSource: boolean; workers: number };

function parseArgs(argv: string[]): Args {
  const get = (name: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
  return {
    sizes: (get('sizes') ?? '10000,100000').split(',').map(Number),
    concurrency: Number(get('concurrency') ?? 100),
    connections: Number(get('connections') ?? 5),
    ceiling: Number(get('ceiling') ?? 20000),
    skipImport: argv.includes('--skip-import'),
    // Extra node flags for the worker process, e.g. --node-args "--cpu-prof --cpu-prof-dir=/tmp/prof".
    nodeArgs: (get('node-args') ?? '').split(' ').filter(Boolean),
    // Run the worker through tsx from source instead of the compiled build.
    fromSource: argv.includes('--from-source'),
    workers: Number(get('workers') ?? 1),
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
  console.log(`Daybreak benchmark (${results.machine}, Node ${process.version}); ${args.workers} worker process(es) at concurrency ${args.concurrency}, ${args.connections} pooled SMTP connections each\n`);
  results.workers = args.workers;

  const base = loadConfig({ overrides: { redisUrl, smtpUrl: sink.url, redisPrefix: `bench-${crypto.randomBytes(3).toString('hex')}`, delivery: { concurrency: args.concurrency, smtpMaxConnections: args.connections, attempts: 6, backoffMs: 1000, fanoutPageSize: Number(process.env.BENCH_PAGE ?? 1000), lockDurationMs: 30_000, stalledIntervalMs: 30_000 } } });
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
  const ceiling = await runCeiling(sink.url, args.ceiling, args.connections, args.concurrency, messageFile);
  results.ceilingRate = Math.round(ceiling.rate);
  print(`Ceiling: ${args.ceiling} pre-built messages, pooled SMTP`, `${results.ceilingRate} messages/s`);
  console.log('');

  for (const size of args.sizes) {
    const prefix = `${base.redisPrefix}-${size}`;
    const config: LoadedConfig = { ...base, redisPrefix: prefix };
    const rt = new Runtime(config, { logger: silentLogger });
    await rt.deleteAllKeys();
    await seedSubscribers(rt, newsletter.id, size);
    const configFile = writeConfig(config);
    const workers = Array.from({ length: args.workers }, () => spawn(process.execPath, [...args.nodeArgs, workerEntry, 'worker', '--concurrency', String(args.concurrency)], {
      env: { ...process.env, DAYBREAK_CONFIG: configFile, LOG_LEVEL: 'warn', NODE_ENV: 'production', DAYBREAK_SECRET: config.secret, ...(args.fromSource ? { DAYBREAK_FROM_SOURCE: '1' } : {}) },
      stdio: ['ignore', 'inherit', 'inherit'],
    }));
    while ((await rt.queues.send(newsletter.id).getWorkersCount()) < args.workers || !(await workersRunning(rt, newsletter.id))) await new Promise((r) => setTimeout(r, 100));
    const before = await sink.count();
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
    print(`  worker peak RSS${args.workers > 1 ? ` (largest of ${args.workers})` : ''}`, `${results[`workerPeakRssMb_${k}`]} MB`);
    await rt.deleteAllKeys();
    await rt.close();
  }

  // The issue's targets for the largest edition run, checked against what was just measured.
  const largest = Math.max(...args.sizes);
  const lk = `${largest / 1000}k`;
  if (largest >= 100_000) {
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    const rssOk = args.sizes.every((size) => Number(results[`workerPeakRssMb_${size / 1000}k`]) < 300);
    console.log('');
    print(`Targets at ${largest.toLocaleString('en-GB')}`, '');
    print('  under 2 minutes end to end', `${verdict(Number(results[`e2eSeconds_${lk}`]) < 120)} (${results[`e2eSeconds_${lk}`]} s)`);
    print('  at least 70% of the ceiling', `${verdict(Number(results[`ratio_${lk}`]) >= 0.7)} (${Math.round(Number(results[`ratio_${lk}`]) * 100)}%)`);
    print('  worker peak RSS under 300 MB at every size', `${verdict(rssOk)} (${args.sizes.map((size) => `${results[`workerPeakRssMb_${size / 1000}k`]} MB`).join(', ')})`);
  }

  // The in-doubt window: from the SMTP server's acceptance reaching us to the ledger's "sent" write.
  // A crash inside it is the one case that can mail a reader twice; measured here, in process.
  {
    const n = 5000;
    const prefix = `${base.redisPrefix}-window`;
    const accepted = new Map<string, number>();
    const windows: number[] = [];
    const inner = createTransport({ ...base, redisPrefix: prefix });
    const timing: MailTransport = {
      description: inner.description,
      send: async (m) => { const r = await inner.send(m); accepted.set(m.subscriberId, performance.now()); return r; },
      verify: () => inner.verify(),
      close: () => inner.close(),
    };
    const rt = new Runtime({ ...base, redisPrefix: prefix }, { logger: silentLogger, transport: timing });
    rt.outcomes.subscribe('sent', (e) => { const t = accepted.get(e.subscriberId); if (t !== undefined) windows.push(performance.now() - t); });
    await rt.deleteAllKeys();
    await seedSubscribers(rt, newsletter.id, n);
    const result = await runEditionNow(rt, { newsletterId: newsletter.id, localDate, concurrency: args.concurrency });
    windows.sort((a, b) => a - b);
    const q = (p: number) => windows[Math.min(windows.length - 1, Math.floor(p * windows.length))];
    results.inDoubtWindowP50Ms = Number(q(0.5).toFixed(2));
    results.inDoubtWindowP99Ms = Number(q(0.99).toFixed(2));
    results.inDoubtWindowMaxMs = Number(windows[windows.length - 1].toFixed(2));
    const rate = result.edition.sent / (result.ms / 1000);
    // Expected copies in doubt if a worker dies at a random moment: messages per second x window.
    results.inDoubtExpectedPerCrash = Number(((rate * q(0.5)) / 1000).toFixed(2));
    console.log('');
    print(`In-doubt window over ${n} sends (accepted -> recorded)`, `p50 ${results.inDoubtWindowP50Ms} ms, p99 ${results.inDoubtWindowP99Ms} ms, max ${results.inDoubtWindowMaxMs} ms`);
    print('  copies in doubt per crash at that rate', `${results.inDoubtExpectedPerCrash} (at ${Math.round(rate)} messages/s)`);
    await rt.deleteAllKeys();
    await rt.close();
  }

  if (!args.skipImport) {
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
