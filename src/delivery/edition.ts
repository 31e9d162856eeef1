/** An edition: one newsletter's issue for one local date, and where it stands. */
export type EditionState = 'created' | 'building' | 'sending' | 'paused' | 'done' | 'skipped' | 'held' | 'cancelled' | 'failed';

export const finalStates: ReadonlySet<EditionState> = new Set(['done', 'skipped', 'held', 'cancelled', 'failed']);

export interface EditionArticle {
  id: string;
  title: string;
  url: string;
  section?: string;
}

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
  /** Articles are those published in (since, cutoff]. */
  since?: Date;
  cutoff?: Date;
  articleIds: string[];
  /** What readers saw, for status and history (the full articles are in the stored content). */
  articles: EditionArticle[];
  subject?: string;
  fanoutDone: boolean;
  /** Everyone the edition is for (fan-out adds them; resends of new people too). */
  total: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Bounces attributed to this edition (DSNs, webhooks, 5xx at send), hard and soft. */
  bounced: number;
  /** Spam complaints attributed to this edition. */
  complaints: number;
  /** Why it is held, skipped or failed. */
  reason?: string;
  warnings: string[];
  /** Ops released a held edition. */
  forced: boolean;
}

/** Deterministic, so two schedulers (or a scheduler and ops) name the same edition the same way. */
export function editionIdFor(newsletterId: string, localDate: string): string {
  return `${newsletterId}-${localDate}`;
}

export function pendingCount(e: Pick<Edition, 'total' | 'sent' | 'failed' | 'skipped'>): number {
  return Math.max(0, e.total - e.sent - e.failed - e.skipped);
}
