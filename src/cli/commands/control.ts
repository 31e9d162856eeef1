import readline from 'node:readline/promises';
import type { Command } from 'commander';
import { cancelEdition, pauseEdition, resumeEdition } from '../../delivery/control';
import { pendingCount } from '../../delivery/edition';
import { getEditionOrThrow } from '../../delivery/status';
import { CliError, withRuntime, type GlobalOptions } from '../context';
import { asCliErrors, n } from './status';

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export function registerControl(program: Command, globals: () => GlobalOptions): void {
  const run = <T>(fn: Parameters<typeof withRuntime<T>>[1]) => withRuntime<T>({ ...globals(), logLevel: process.env.LOG_LEVEL ?? 'warn' }, (runtime) => asCliErrors(() => fn(runtime)));

  program
    .command('pause')
    .description('pause a sending edition: every worker stops within seconds; its queue is kept for resume')
    .argument('<edition>', 'edition id, e.g. national-2026-11-24')
    .option('--reason <text>', 'why, for the edition history')
    .action(async (id: string, opts: { reason?: string }) => {
      await run(async (runtime) => {
        const result = await pauseEdition(runtime, id, { reason: opts.reason });
        const e = await getEditionOrThrow(runtime, id);
        if (result.unchanged) console.log(`Edition ${id} was already paused.`);
        else console.log(`Paused ${id}: ${n(e.sent)} sent so far, ${n(pendingCount(e))} waiting in the queue. Messages already handed to SMTP finish; nothing else goes until \`daybreak resume ${id}\`.`);
      });
    });

  program
    .command('resume')
    .description('resume a paused edition: its kept queue is sent')
    .argument('<edition>', 'edition id, e.g. national-2026-11-24')
    .action(async (id: string) => {
      await run(async (runtime) => {
        const result = await resumeEdition(runtime, id);
        const e = await getEditionOrThrow(runtime, id);
        if (result.unchanged) console.log(`Edition ${id} is already sending (${n(pendingCount(e))} pending).`);
        else if (result.finished) console.log(`Resumed ${id}: every message was already settled, so it is now done (${n(e.sent)} sent).`);
        else console.log(`Resumed ${id}: ${n(pendingCount(e))} message(s) to go. Follow it with \`daybreak status ${id} --watch\`.`);
        const workers = await runtime.queues.send(e.newsletterId).getWorkersCount();
        if (!result.finished && workers === 0) console.log(`Note: no send workers are connected; start \`daybreak worker\` (or run \`daybreak resend ${id} --unsent\`) to send them.`);
      });
    });

  program
    .command('cancel')
    .description('cancel an edition for good: nothing more is sent (those already sent stay sent)')
    .argument('<edition>', 'edition id, e.g. national-2026-11-24')
    .option('--reason <text>', 'why, for the edition history')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (id: string, opts: { reason?: string; yes?: boolean }) => {
      await run(async (runtime) => {
        const e = await getEditionOrThrow(runtime, id);
        if (!opts.yes) {
          if (!process.stdin.isTTY) throw new CliError(`Cancelling cannot be undone; add --yes to cancel ${id} from a script.`, 2);
          if (!(await confirm(`Cancel ${id} (${e.state}, ${n(e.sent)} of ${n(e.total)} sent)? Nothing more of it will be sent.`))) {
            console.log('Not cancelled.');
            return;
          }
        }
        const result = await cancelEdition(runtime, id, { reason: opts.reason });
        const after = await getEditionOrThrow(runtime, id);
        if (result.unchanged) console.log(`Edition ${id} was already cancelled.`);
        else console.log(`Cancelled ${id} (was ${result.previous}): ${n(after.sent)} sent before the cancel; ${n(pendingCount(after))} will not be sent.`);
      });
    });
}
