/** Ops control of an edition: pause, resume and cancel, through the edition lifecycle and its queue. */
import os from 'node:os';
import { DaybreakError } from '../core/errors';
import type { EditionState } from '../delivery/edition';
import { enqueueEdition } from '../delivery/enqueue';
import { getEditionOrThrow } from '../ops/status';
import type { Logger } from '../core/logger';
import type { EditionStore } from '../delivery/edition-store';
import type { EnqueueDeps } from '../delivery/enqueue';
import type { DeliveryQueues } from '../delivery/queues';

export interface ControlDeps extends EnqueueDeps {
  editions: EnqueueDeps['editions'] & Pick<EditionStore, 'apply' | 'fanoutDone' | 'list' | 'scanLedger'>;
  queues: Pick<DeliveryQueues, 'editions' | 'send' | 'sendQueues'>;
  logger: Logger;
}

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
export class EditionControlError extends DaybreakError {
  constructor(readonly editionId: string, readonly state: string, message: string) {
    super('conflict', message, { context: { edition: editionId, state } });
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
  /** For cancel: queued send jobs of this edition taken off the queue. */
  removedJobs?: number;
  /** For cancel: messages already claimed (with the mail server) when it was cancelled; they settle as sent or failed. */
  inFlight?: number;
}

/** Other editions of the newsletter that are paused: the shared send queue must stay paused for them. */
async function otherPausedEditions(deps: ControlDeps, newsletterId: string, editionId: string): Promise<string[]> {
  const recent = await deps.editions.list(newsletterId, 30);
  return recent.filter((e) => e.id !== editionId && e.state === 'paused').map((e) => e.id);
}

async function resumeQueueUnlessHeld(deps: ControlDeps, newsletterId: string, editionId: string): Promise<void> {
  if ((await otherPausedEditions(deps, newsletterId, editionId)).length === 0) await Promise.all(deps.queues.sendQueues(newsletterId).map((q) => q.resume()));
}

/**
 * Pauses a sending edition. Two layers: the edition's state, which every worker's claim reads
 * right before SMTP (so nothing more is sent, whatever is in which queue), and the newsletter's
 * BullMQ send queues (one per provider group), so workers stop taking jobs instead of re-delaying every queued one every
 * two seconds. Messages already handed to SMTP finish; everything else stays queued.
 */
export async function pauseEdition(deps: ControlDeps, id: string, options: { by?: string; reason?: string; evidence?: Record<string, unknown> } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(deps, id);
  const now = deps.clock.now();
  const by = options.by ?? currentOperator();
  const result = await deps.editions.apply(id, 'pause', {
    at: now,
    detail: { by, ...(options.reason ? { reason: options.reason } : {}), ...options.evidence },
    // A pause with a reason (the circuit breaker's) shows it in `status` from the same instant.
    fields: { pausedAt: now, ...(options.reason ? { reason: options.reason } : {}) },
  });
  if (!result.ok) {
    if (result.previous === 'paused') return { editionId: id, previous: 'paused', state: 'paused', unchanged: true };
    const hint = result.previous === 'created' || result.previous === 'building' ? ' It can be paused once it is sending (seconds from now), or cancelled now.' : '';
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is ${result.previous}; only a sending edition can be paused.${hint}`);
  }
  await Promise.all(deps.queues.sendQueues(edition.newsletterId).map((q) => q.pause()));
  deps.logger.child({ editionId: id }).info({ by }, 'edition paused');
  return { editionId: id, previous: 'sending', state: 'paused', unchanged: false };
}

/**
 * Resumes a paused edition: the queue it kept is sent. Completion is re-checked here because an
 * edition only becomes done while sending: if its last in-flight messages settled during the
 * pause, nothing else would ever mark it done. An unfinished fan-out gets its build job back.
 */
export async function resumeEdition(deps: ControlDeps, id: string, options: { by?: string } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(deps, id);
  const now = deps.clock.now();
  const by = options.by ?? currentOperator();
  const result = await deps.editions.apply(id, 'resume', { at: now, detail: { by }, clear: ['pausedAt'] });
  if (!result.ok) {
    if (result.previous === 'sending') {
      // Still make sure the queue runs: a crash between the two steps of a resume leaves it paused.
      await resumeQueueUnlessHeld(deps, edition.newsletterId, id);
      return { editionId: id, previous: 'sending', state: 'sending', unchanged: true };
    }
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is ${result.previous}; only a paused edition can be resumed.`);
  }
  await resumeQueueUnlessHeld(deps, edition.newsletterId, id);
  let finished = false;
  if (edition.fanoutDone) finished = await deps.editions.fanoutDone(id, now);
  else await enqueueEdition(deps, { newsletterId: edition.newsletterId, localDate: edition.localDate, trigger: 'manual' });
  deps.logger.child({ editionId: id }).info({ by, finished }, 'edition resumed');
  return { editionId: id, previous: 'paused', state: finished ? 'done' : 'sending', unchanged: false, finished };
}

/**
 * Takes the edition's jobs that no worker holds off its newsletter's queues (its own and resend
 * jobs; other editions' jobs stay), so `status` stops listing them. A job a worker already holds
 * cannot be removed; its claim sees the cancelled state and sends nothing.
 */
async function removeQueuedJobs(deps: ControlDeps, newsletterId: string, editionId: string): Promise<number> {
  let removed = 0;
  for (const queue of deps.queues.sendQueues(newsletterId)) removed += await removeQueuedJobsOf(queue, editionId);
  return removed;
}

async function removeQueuedJobsOf(queue: ReturnType<DeliveryQueues['send']>, editionId: string): Promise<number> {
  const ours = (id: string) => id.startsWith(`${editionId}.`) || id.startsWith(`resend.${editionId}.`);
  let removed = 0;
  for (;;) {
    const ids = (await queue.getRanges(['waiting', 'delayed', 'prioritized'], 0, -1)).filter(ours);
    if (ids.length === 0) return removed;
    let progressed = 0;
    for (let i = 0; i < ids.length; i += 200) {
      const results = await Promise.all(ids.slice(i, i + 200).map((id) => queue.remove(id).catch(() => 0)));
      progressed += results.filter((r) => r === 1).length;
    }
    removed += progressed;
    if (progressed === 0) return removed;
  }
}

/** Readers whose copy was claimed (handed to SMTP or about to be) and not yet recorded. */
async function claimedNow(deps: ControlDeps, editionId: string): Promise<number> {
  let claimed = 0;
  for await (const entry of deps.editions.scanLedger(editionId)) if (entry.kind === 'claimed') claimed += 1;
  return claimed;
}

/**
 * Cancels an edition for good: every worker's claim sees it before SMTP and completes the job
 * without sending, and the edition's queued jobs are removed. Copies already claimed finish and
 * are recorded; the result says how many, so the counts ops are told add up with the ledger.
 */
export async function cancelEdition(deps: ControlDeps, id: string, options: { by?: string; reason?: string } = {}): Promise<ControlResult> {
  const edition = await getEditionOrThrow(deps, id);
  const now = deps.clock.now();
  const by = options.by ?? currentOperator();
  const result = await deps.editions.apply(id, 'cancel', {
    at: now,
    detail: { by, ...(options.reason ? { reason: options.reason } : {}) },
    fields: { finishedAt: now, reason: `cancelled by ${by}${options.reason ? `: ${options.reason}` : ''}` },
  });
  if (!result.ok) {
    if (result.previous === 'cancelled') return { editionId: id, previous: 'cancelled', state: 'cancelled', unchanged: true };
    throw new EditionControlError(id, String(result.previous), `Edition ${id} is already ${result.previous}; there is nothing left to cancel.`);
  }
  const removedJobs = await removeQueuedJobs(deps, edition.newsletterId, id);
  if (result.previous === 'paused') await resumeQueueUnlessHeld(deps, edition.newsletterId, id);
  const inFlight = await claimedNow(deps, id);
  deps.logger.child({ editionId: id }).info({ by, from: result.previous, removedJobs, inFlight }, 'edition cancelled');
  return { editionId: id, previous: result.previous as EditionState, state: 'cancelled', unchanged: false, removedJobs, inFlight };
}
