/** `daybreak pause|resume|cancel`: ops control of a running edition. */
import readline from 'node:readline/promises';
import { DaybreakError } from '../../core/errors';
import { cancelEdition, pauseEdition, resumeEdition } from '../../ops/control';
import { pendingCount } from '../../delivery/edition';
import type { Runtime } from '../../delivery/runtime';
import { getEditionOrThrow } from '../../ops/status';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

const withQuietRuntime = <T>(globals: GlobalOptions, fn: (runtime: Runtime) => Promise<T>): Promise<T> => withRuntime({ ...globals, logLevel: quietLogs() }, fn);

export async function pause(id: string, opts: { reason?: string }, globals: GlobalOptions): Promise<void> {
  await withQuietRuntime(globals, async (runtime) => {
    const result = await pauseEdition(runtime, id, { reason: opts.reason });
    const e = await getEditionOrThrow(runtime, id);
    if (result.unchanged) console.log(`Edition ${id} was already paused.`);
    else console.log(`Paused ${id}: ${n(e.sent)} sent so far, ${n(pendingCount(e))} waiting in the queue. Messages already handed to SMTP finish; nothing else goes until \`daybreak resume ${id}\`.`);
  });
}

export async function resume(id: string, globals: GlobalOptions): Promise<void> {
  await withQuietRuntime(globals, async (runtime) => {
    const result = await resumeEdition(runtime, id);
    const e = await getEditionOrThrow(runtime, id);
    if (result.unchanged) console.log(`Edition ${id} is already sending (${n(pendingCount(e))} pending).`);
    else if (result.finished) console.log(`Resumed ${id}: every message was already settled, so it is now done (${n(e.sent)} sent).`);
    else console.log(`Resumed ${id}: ${n(pendingCount(e))} message(s) to go. Follow it with \`daybreak status ${id} --watch\`.`);
    const workers = await runtime.queues.send(e.newsletterId).getWorkersCount();
    if (!result.finished && workers === 0) console.log(`Note: no send workers are connected; start \`daybreak worker\` (or run \`daybreak resend ${id} --unsent\`) to send them.`);
  });
}

export async function cancel(id: string, opts: { reason?: string; yes?: boolean }, globals: GlobalOptions): Promise<void> {
  await withQuietRuntime(globals, async (runtime) => {
    const e = await getEditionOrThrow(runtime, id);
    if (!opts.yes) {
      if (!process.stdin.isTTY) throw new DaybreakError('bad-input', `Cancelling cannot be undone; add --yes to cancel ${id} from a script.`);
      if (!(await confirm(`Cancel ${id} (${e.state}, ${n(e.sent)} of ${n(e.total)} sent)? Nothing more of it will be sent.`))) {
        console.log('Not cancelled.');
        return;
      }
    }
    const result = await cancelEdition(runtime, id, { reason: opts.reason });
    if (result.unchanged) {
      console.log(`Edition ${id} was already cancelled.`);
      return;
    }
    const after = await getEditionOrThrow(runtime, id);
    const dropped = result.removedJobs ?? 0;
    const inFlight = result.inFlight ?? 0;
    console.log(`Cancelled ${id} (was ${result.previous}): ${n(after.sent)} sent before the cancel; ${n(Math.max(0, pendingCount(after) - inFlight))} will not be sent${dropped ? ` (${n(dropped)} queued job(s) removed)` : ''}.`);
    if (inFlight) console.log(`${n(inFlight)} more were already with the mail server; they finish and are recorded as sent or failed (\`daybreak status ${id}\` shows the final counts).`);
  });
}
