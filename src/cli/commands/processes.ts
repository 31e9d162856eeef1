/** The long-running commands: start, scheduler, worker, serve. */
import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { createEditionWorker, createSendWorkers } from '../../delivery/workers';
import type { BounceServer } from '../../bounces/bounce-server';
import { EditionScheduler } from '../../delivery/scheduler';
import type { Runtime } from '../../app/runtime';
import { sampleSourceRefusal } from '../../config/load';
import { DaybreakError } from '../../core/errors';
import { withRuntime, type GlobalOptions } from '../context';

type Part = 'scheduler' | 'workers' | 'web' | 'bounces';

/** Runs the chosen long-lived parts until SIGINT/SIGTERM, then closes them in order. */
async function runParts(runtime: Runtime, parts: Part[], options: { concurrency?: number; port?: number }): Promise<void> {
  const refusal = parts.includes('scheduler') || parts.includes('workers') ? sampleSourceRefusal(runtime.config) : undefined;
  if (refusal) throw new DaybreakError('config-invalid', refusal);
  const workers: Worker[] = [];
  let scheduler: EditionScheduler | undefined;
  let web: FastifyInstance | undefined;
  let bounceServer: BounceServer | undefined;
  if (parts.includes('workers')) {
    workers.push(createEditionWorker(runtime, { sandboxed: true }), ...createSendWorkers(runtime, { concurrency: options.concurrency }));
    runtime.logger.info({ concurrency: options.concurrency ?? runtime.config.delivery.concurrency, transport: runtime.transport.description }, 'workers started');
  }
  if (parts.includes('scheduler')) {
    // Each minute's tick also sends welcome emails a crash or a mail outage left owed.
    const { deliverDueWelcomes } = require('../../subscribers/welcome') as typeof import('../../subscribers/welcome');
    scheduler = new EditionScheduler(runtime, [() => deliverDueWelcomes(runtime)]);
    scheduler.start();
  }
  if (parts.includes('web')) {
    // Loaded only where the web runs, so a worker process carries none of it.
    const { startWebServer } = require('../../web/server') as typeof import('../../web/server');
    web = await startWebServer(runtime, options.port);
  }
  // The DSN mailbox (bounces.server.enabled): an SMTP listener for the bounce domain.
  if (parts.includes('bounces')) {
    const { startBounceServer } = require('../../bounces/bounce-server') as typeof import('../../bounces/bounce-server');
    bounceServer = await startBounceServer(runtime);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      runtime.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await scheduler?.stop();
  await web?.close();
  await bounceServer?.close();
  // Workers finish the jobs they hold before closing, so nothing is left claimed.
  await Promise.all(workers.map((w) => w.close()));
}

export async function start(opts: { concurrency?: number; scheduler: boolean; workers: boolean; web: boolean }, globals: GlobalOptions): Promise<void> {
  const parts: Part[] = (['scheduler', 'workers', 'web'] as const).filter((p) => opts[p]);
  if (parts.length === 0) throw new DaybreakError('bad-input', 'nothing to start: every part was left out');
  await withRuntime(globals, (runtime) => runParts(runtime, runtime.config.bounces.server.enabled ? [...parts, 'bounces'] : parts, opts));
}

export async function scheduler(globals: GlobalOptions): Promise<void> {
  await withRuntime(globals, (runtime) => runParts(runtime, ['scheduler'], {}));
}

export async function worker(opts: { concurrency?: number }, globals: GlobalOptions): Promise<void> {
  await withRuntime(globals, (runtime) => runParts(runtime, ['workers'], opts));
}

export async function serve(opts: { port?: number }, globals: GlobalOptions): Promise<void> {
  await withRuntime(globals, (runtime) => runParts(runtime, ['web'], opts));
}
