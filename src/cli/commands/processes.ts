import type { Worker } from 'bullmq';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { createEditionWorker } from '../../../workers/edition.worker';
import { createSendWorkers } from '../../../workers/send.worker';
import type { BounceServer } from '../../bounces/bounce-server';
import { EditionScheduler } from '../../delivery/scheduler';
import type { Runtime } from '../../delivery/runtime';
import { CliError, parsePositiveInt, withRuntime, type GlobalOptions } from '../context';

type Part = 'scheduler' | 'workers' | 'web' | 'bounces';

/** Runs the chosen long-lived parts until SIGINT/SIGTERM, then closes them in order. */
async function runParts(runtime: Runtime, parts: Part[], options: { concurrency?: number; port?: number }): Promise<void> {
  const workers: Worker[] = [];
  let scheduler: EditionScheduler | undefined;
  let web: FastifyInstance | undefined;
  let bounceServer: BounceServer | undefined;
  if (parts.includes('workers')) {
    workers.push(createEditionWorker(runtime, { sandboxed: true }), ...createSendWorkers(runtime, { concurrency: options.concurrency }));
    runtime.logger.info({ concurrency: options.concurrency ?? runtime.config.delivery.concurrency, transport: runtime.transport.description }, 'workers started');
  }
  if (parts.includes('scheduler')) {
    scheduler = new EditionScheduler(runtime);
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

export function registerProcesses(program: Command, globals: () => GlobalOptions): void {
  program
    .command('start')
    .description('run the scheduler, the workers and the web server in one process')
    .option('--concurrency <n>', 'sends in flight per newsletter', parsePositiveInt('--concurrency'))
    .option('--no-scheduler', 'leave out the scheduler')
    .option('--no-workers', 'leave out the workers (run them with `daybreak worker`)')
    .option('--no-web', 'leave out the web server')
    .action(async (opts: { concurrency?: number; scheduler: boolean; workers: boolean; web: boolean }) => {
      const parts: Part[] = (['scheduler', 'workers', 'web'] as const).filter((p) => opts[p]);
      if (parts.length === 0) throw new CliError('nothing to start: every part was left out', 2);
      await withRuntime(globals(), (runtime) => runParts(runtime, runtime.config.bounces.server.enabled ? [...parts, 'bounces'] : parts, opts));
    });
  program
    .command('scheduler')
    .description("queue each newsletter's edition on its cron schedule, in its own time zone")
    .action(async () => {
      await withRuntime(globals(), (runtime) => runParts(runtime, ['scheduler'], {}));
    });
  program
    .command('worker')
    .description('process edition and send jobs (run as many as you like)')
    .option('--concurrency <n>', 'sends in flight per newsletter', parsePositiveInt('--concurrency'))
    .action(async (opts: { concurrency?: number }) => {
      await withRuntime(globals(), (runtime) => runParts(runtime, ['workers'], opts));
    });
  program
    .command('serve')
    .description('run the web server (sign-up, confirm, unsubscribe, preferences, health)')
    .option('--port <port>', 'port (default: PORT or 3000)', parsePositiveInt('--port'))
    .action(async (opts: { port?: number }) => {
      await withRuntime(globals(), (runtime) => runParts(runtime, ['web'], opts));
    });
}
