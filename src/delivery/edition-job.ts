/** The edition job: build (pick, render once, store), then fan out; a build that fails for good fails the edition. */
import { UnrecoverableError } from 'bullmq';
import { isDaybreakError } from '../core/errors';
import { sendApprovalPreviews, type PreviewDeps } from './approval-preview';
import { buildEdition, type BuildDeps } from './build-edition';
import { fanOut, type FanoutDeps } from './fanout';
import { isLastAttempt, type BuildJobData } from './queues';
import { slotLabel } from './schedule';

/** The parts of a BullMQ job the edition processor reads (a sandboxed job has the same). */
export interface EditionJob {
  data: BuildJobData;
  attemptsMade: number;
  opts: { attempts?: number };
}

export type EditionJobDeps = BuildDeps & FanoutDeps & PreviewDeps & {
  editions: BuildDeps['editions'] & FanoutDeps['editions'] & PreviewDeps['editions'];
};

/** Errors a retry cannot mend: bad config, a sample source refused in production. */
function isPermanent(error: unknown): boolean {
  return isDaybreakError(error) && (error.code === 'config-invalid' || error.code === 'unknown-newsletter');
}

/**
 * Builds, then fans out. A build that fails on its last try (or with an error no retry can mend)
 * marks the edition failed with the reason, so nothing half-built is ever sent.
 */
export async function processEditionJob(deps: EditionJobDeps, job: EditionJob): Promise<string> {
  const { editionId } = job.data;
  try {
    const outcome = await buildEdition(deps, editionId);
    if (outcome === 'sending' || outcome === 'awaiting-approval' || outcome === 'already') {
      const edition = await deps.editions.get(editionId);
      if (edition && (edition.state === 'sending' || edition.state === 'paused') && !edition.fanoutDone) await fanOut(deps, editionId);
      // Under the editors' say: their preview, once (a retried job whose preview went out sends none).
      if (edition?.state === 'awaiting-approval' && !edition.previewsSentAt) await sendApprovalPreviews(deps, editionId, slotLabel);
    }
    return outcome;
  } catch (error) {
    const message = (error as Error).message;
    const permanent = isPermanent(error);
    deps.logger.error({ editionId, attempt: job.attemptsMade + 1, err: error }, 'edition build failed');
    if (permanent || isLastAttempt(job)) {
      const now = deps.clock.now();
      await deps.editions.apply(editionId, 'fail', { at: now, detail: { reason: message }, fields: { reason: message, finishedAt: now } });
    }
    // BullMQ then stops retrying: a second try would fail the same way.
    if (permanent) throw new UnrecoverableError(message);
    throw error;
  }
}
