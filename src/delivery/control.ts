import os from 'node:os';
import type { EditionState } from './edition';
import { enqueueEdition } from './enqueue';
import type { Runtime } from './runtime';
import { getEditionOrThrow } from './status';

/** Who is at the terminal, for the edition's history. */
export function currentOperator(): string {
  try {
    return os.userInfo().username || process.env.USER || 'unknown';
  } catch {
    // userInfo() throws in containers whose uid has no passwd entry.
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}

/** A control command that does not apply to the edition's current state. */
export class EditionControlError extends Error {
  constructor(readonly editionId: string, readonly state: string, message: string) {
    super(message);
    this.name = 'EditionControlError';
  }
}

export interface ControlResult {
  editionId: string;
  previous: EditionState;
  state: EditionState;
  /** Nothing changed (e.g. resume of an edition already sending). */
  unchanged: boolean;
  /** For resume: the edition turned out to be complete and is now done. */
  finished?: boolean;
}

/** Other editions of the newsletter that are paused: the shared send queue must stay paused for them. */
async function otherPausedEditions(runtime: Runtime, newsletterId: string, editionId: string): Promise<string[]> {
  const recent = await runtime.editions.list(newsletterId, 30);
  return recent.filter((e) => e.id !== editionId && e.state === 'paused').map((e) => e.id);
}

async function resumeQueueUnlessHeld(runtime: Runtime, newsletterId: string, editionId: string): Promise<void> {
  if ((await otherPausedEditions(runtime, newsletterId, editionId)).length === 0) await runtime.queues.send(newsletterId).resume();
}

/**
 * Pauses a sending edition. Two layers: the edition's state, which every worker's claim reads
 * right before SMTP (so nothing more is sent, whatever is in which queue), and the newsletter's
 * BullMQ send queue, so workers stop taking jobs instead of re-delaying every queued one every
 * two seconds. Messages already handed to SMTP finish; everything else stays queued.
 */
export async function pauseEdition(runtime: Runtime, id: string, options: { by?: string; reason?: string; evidence?: Record<string, unknown> } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(runtime, id);
  const result = await runtime.editions.transition(id, 'paused', ['sending']);
  if (!result.ok) {
    if (result.previous === 'paused') return { editionId: id, previous: 'paused', state: 'paused', unchanged: true };
    const hint = result.previous === 'created' || result.previous === 'building' ? ' It can be paused once it is sending (seconds from now), or cancelled now.' : '';
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is ${result.previous}; only a sending edition can be paused.${hint}`);
  }
  await runtime.queues.send(edition.newsletterId).pause();
  await runtime.editions.update(id, { pausedAt: runtime.clock.now().getTime() });
  await runtime.editions.log(id, runtime.clock.now(), 'paused', { by: options.by ?? currentOperator(), ...(options.reason ? { reason: options.reason } : {}), ...options.evidence });
  runtime.logger.child({ editionId: id }).info({ by: options.by ?? currentOperator() }, 'edition paused');
  return { editionId: id, previous: 'sending', state: 'paused', unchanged: false };
}

/**
 * Resumes a paused edition: the queue it kept is sent. Completion is re-checked here because an
 * edition only becomes done while sending: if its last in-flight messages settled during the
 * pause, nothing else would ever mark it done. An unfinished fan-out gets its build job back.
 */
export async function resumeEdition(runtime: Runtime, id: string, options: { by?: string } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(runtime, id);
  const result = await runtime.editions.transition(id, 'sending', ['paused']);
  if (!result.ok) {
    if (result.previous === 'sending') {
      // Still make sure the queue runs: a crash between the two steps of a resume leaves it paused.
      await resumeQueueUnlessHeld(runtime, edition.newsletterId, id);
      return { editionId: id, previous: 'sending', state: 'sending', unchanged: true };
    }
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is ${result.previous}; only a paused edition can be resumed.`);
  }
  const now = runtime.clock.now();
  await runtime.editions.log(id, now, 'resumed', { by: options.by ?? currentOperator() });
  await resumeQueueUnlessHeld(runtime, edition.newsletterId, id);
  let finished = false;
  if (edition.fanoutDone) finished = await runtime.editions.fanoutDone(id, now);
  else await enqueueEdition(runtime, { newsletterId: edition.newsletterId, localDate: edition.localDate, trigger: 'manual' });
  runtime.logger.child({ editionId: id }).info({ by: options.by ?? currentOperator(), finished }, 'edition resumed');
  return { editionId: id, previous: 'paused', state: finished ? 'done' : 'sending', unchanged: false, finished };
}

const cancellable: EditionState[] = ['created', 'building', 'sending', 'paused', 'held'];

/**
 * Cancels an edition for good: every worker's claim sees it before SMTP and completes the job
 * without sending. Queued jobs are left to drain (each is a claim and nothing more); the ledger
 * keeps who had already been sent.
 */
export async function cancelEdition(runtime: Runtime, id: string, options: { by?: string; reason?: string } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(runtime, id);
  const result = await runtime.editions.transition(id, 'cancelled', cancellable);
  if (!result.ok) {
    if (result.previous === 'cancelled') return { editionId: id, previous: 'cancelled', state: 'cancelled', unchanged: true };
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is already ${result.previous}; there is nothing left to cancel.`);
  }
  const now = runtime.clock.now();
  const by = options.by ?? currentOperator();
  await runtime.editions.update(id, { finishedAt: now.getTime(), reason: `cancelled by ${by}${options.reason ? `: ${options.reason}` : ''}` });
  await runtime.editions.log(id, now, 'cancelled', { by, from: result.previous, ...(options.reason ? { reason: options.reason } : {}) });
  if (result.previous === 'paused') await resumeQueueUnlessHeld(runtime, edition.newsletterId, id);
  runtime.logger.child({ editionId: id }).info({ by, from: result.previous }, 'edition cancelled');
  return { editionId: id, previous: result.previous as EditionState, state: 'cancelled', unchanged: false };
}
