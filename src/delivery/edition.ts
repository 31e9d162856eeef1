/** An edition: one newsletter's issue for one local date, where it stands, and how it may move. */
export type EditionState = 'created' | 'building' | 'awaiting-approval' | 'sending' | 'paused' | 'done' | 'skipped' | 'held' | 'cancelled' | 'failed';

export const finalStates: ReadonlySet<EditionState> = new Set(['done', 'skipped', 'held', 'cancelled', 'failed']);

/**
 * The edition's life, in one table: every state change is one of these, applied by the edition
 * store in one atomic call that writes the state, the fields and the history entry together.
 * `event` names the history entry. (`sending -> done` is the ledger's: the call that settles the
 * last reader finishes the edition, in the same script.)
 */
export const editionTransitions = {
  /** The build job starts (or a retried build starts again). */
  build: { from: ['created', 'building'], to: 'building', event: undefined },
  /** Too late for its send window: held for ops. */
  hold: { from: ['created', 'building'], to: 'held', event: 'held' },
  /** Nothing new to send. */
  skip: { from: ['building'], to: 'skipped', event: 'skipped' },
  /** Rendered and stored: the fan-out and the sends may start. */
  startSending: { from: ['building'], to: 'sending', event: 'rendered' },
  /**
   * Rendered and stored, under the editors' say (approval veto or required): built ahead of its
   * slot, previewed to the editors, sent by `release` (docs/editorial.md).
   */
  awaitApproval: { from: ['building'], to: 'awaiting-approval', event: 'awaiting-approval' },
  /** An editor approves (it goes at its slot, or at once when the slot has passed within the send window). */
  approve: { from: ['awaiting-approval'], to: 'awaiting-approval', event: 'approved' },
  /** An editor holds it: nothing is sent until an editor approves. */
  editorHold: { from: ['awaiting-approval'], to: 'awaiting-approval', event: 'held-by-editor' },
  /** Its slot has come with the editors' say (or ops force it): the fan-out and the sends start. */
  releaseApproved: { from: ['awaiting-approval'], to: 'sending', event: 'released' },
  /** The build failed for good. */
  fail: { from: ['created', 'building'], to: 'failed', event: 'failed' },
  pause: { from: ['sending'], to: 'paused', event: 'paused' },
  resume: { from: ['paused'], to: 'sending', event: 'resumed' },
  cancel: { from: ['created', 'building', 'awaiting-approval', 'sending', 'paused', 'held'], to: 'cancelled', event: 'cancelled' },
  /** Ops force a held edition: it builds again, past the staleness guard. */
  release: { from: ['held'], to: 'created', event: 'released' },
  /** A manual run retries a failed build (a feed that was down). */
  retry: { from: ['failed'], to: 'created', event: 'retried' },
  /** Ops force a held wave of a finished edition delivered in readers' zones: it sends again until that wave is settled. */
  reopen: { from: ['done'], to: 'sending', event: 'reopened' },
} as const satisfies Record<string, { from: readonly EditionState[]; to: EditionState; event: string | undefined }>;

export type EditionTransition = keyof typeof editionTransitions;

export interface EditionArticle {
  id: string;
  title: string;
  url: string;
  section?: string;
}

/** Everything stored in an edition's hash, typed. */
export interface Edition {
  id: string;
  newsletterId: string;
  /** YYYY-MM-DD in the newsletter's time zone. */
  localDate: string;
  state: EditionState;
  trigger: 'schedule' | 'manual';
  /** When the schedule says this edition goes out. */
  scheduledFor: Date;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  pausedAt?: Date;
  /** Articles are those published in (since, cutoff]. */
  since?: Date;
  cutoff?: Date;
  articleIds: string[];
  /** What readers saw, for status and history (the full articles are in the stored content). */
  articles: EditionArticle[];
  subject?: string;
  /** MJML compile time of the build, in ms. */
  mjmlMs?: number;
  fanoutDone: boolean;
  /** The last subscriber id the fan-out queued: a crashed fan-out resumes after it. */
  fanoutCursor: number;
  fanoutMs?: number;
  /** Everyone the edition is for (fan-out adds them; resends of new people too). */
  total: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Readers who bounced (DSNs, webhooks, 5xx at send), hard and soft, each once. */
  bounced: number;
  bouncedHard: number;
  /** Readers refused because of us (blocklists, sender policy), each once. */
  blocked: number;
  /** Spam complaints attributed to this edition, each reader once. */
  complaints: number;
  /** Readers who unsubscribed through a link in this edition (the link names it, signed), each once. */
  unsubscribes: number;
  /** When the bounce circuit breaker paused it (it trips once per edition). */
  breakerTrippedAt?: Date;
  /**
   * Set when its send window closed while the relay was unreachable: its unsent readers were
   * settled as failed (the reason says so), and nothing more is sent unless ops resend.
   */
  cutoffAt?: Date;
  /** Why it is held, skipped, failed, paused by the breaker, cut off by a relay outage or cancelled. */
  reason?: string;
  warnings: string[];
  /** Ops released a held edition. */
  forced: boolean;
  /** The editors' latest say on an edition under approval, who said it and when. */
  approval?: 'approved' | 'held';
  approvalBy?: string;
  approvalAt?: Date;
  /** When the editors' preview went out (sent once per edition). */
  previewsSentAt?: Date;
  /** When ops were first told it passed its slot without the approval it needs. */
  approvalOverdueAt?: Date;
  /** How many times it was rendered: once at the build, once more per editor's change. */
  renders: number;
  /** Bumped by every change to its stories, so two editors' changes never overwrite each other. */
  rev: number;
  /** When its ledger was compacted (sent readers kept as bits), after the settle window. */
  compactedAt?: Date;
  /** When its per-reader data was dropped, after the longer retention (counts, history and archive page stay). */
  readersDroppedAt?: Date;
}

/** Deterministic, so two schedulers (or a scheduler and ops) name the same edition the same way. */
export function editionIdFor(newsletterId: string, localDate: string): string {
  return `${newsletterId}-${localDate}`;
}

export function pendingCount(e: Pick<Edition, 'total' | 'sent' | 'failed' | 'skipped'>): number {
  return Math.max(0, e.total - e.sent - e.failed - e.skipped);
}
