/** Where an edition stands for ops: counts, rate, ETA, queue and notes on what to do. */
import { DaybreakError } from '../core/errors';
import { finalStates, pendingCount, type Edition, type EditionArticle, type EditionState } from '../delivery/edition';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import type { EditionStore } from '../delivery/edition-store';
import type { DeliveryQueues } from '../delivery/queues';
import type { TransportBreakerStore } from '../delivery/transport-breaker';
import { wavePending, type Wave } from '../delivery/waves';
import { providerPaces, type ProviderPace, type ProviderPaceDeps } from './provider-pace';

export interface StatusDeps extends ProviderPaceDeps {
  editions: Pick<EditionStore, 'exists' | 'get' | 'history' | 'list' | 'oldestProgressSince' | 'waves'>;
  queues: Pick<DeliveryQueues, 'sendQueues'>;
  transportBreaker: Pick<TransportBreakerStore, 'get'>;
  clock: Clock;
  config: Pick<LoadedConfig, 'newsletters' | 'pacing'>;
}

/** Asked for an edition that is not there: says which ones are. */
export class EditionNotFoundError extends DaybreakError {
  constructor(readonly editionId: string, readonly suggestions: string[]) {
    super('not-found', `No edition "${editionId}".${suggestions.length ? ` Recent editions: ${suggestions.join(', ')}` : ' There are no editions yet.'} (\`daybreak editions\` lists them)`, { context: { edition: editionId } });
    this.name = 'EditionNotFoundError';
  }
}

export async function getEditionOrThrow(deps: { editions: Pick<EditionStore, 'get' | 'list'> }, id: string): Promise<Edition> {
  const edition = await deps.editions.get(id);
  if (edition) return edition;
  const recent = await deps.editions.list(undefined, 5);
  throw new EditionNotFoundError(id, recent.map((e) => e.id));
}

/**
 * An edition id, or a newsletter id meaning that newsletter's newest edition (handy at 6 a.m.:
 * `daybreak status national`). Only read-only commands accept the shorthand.
 */
export async function resolveEditionRef(deps: StatusDeps, ref: string): Promise<{ id: string; viaNewsletter: boolean }> {
  if (await deps.editions.exists(ref)) return { id: ref, viaNewsletter: false };
  if (deps.config.newsletters.some((n) => n.id === ref)) {
    const [latest] = await deps.editions.list(ref, 1);
    if (latest) return { id: latest.id, viaNewsletter: true };
  }
  await getEditionOrThrow(deps, ref);
  return { id: ref, viaNewsletter: false };
}

export interface SendRate {
  /** Messages settled (sent, failed or skipped) per second. */
  perSecond: number;
  /** `recent`: over the last minute's samples; `average`: since the edition started. */
  basis: 'recent' | 'average';
  windowSeconds: number;
}

export interface EditionStatus {
  id: string;
  newsletterId: string;
  newsletterName: string;
  localDate: string;
  state: EditionState;
  final: boolean;
  subject?: string;
  articles: EditionArticle[];
  counts: { total: number; sent: number; failed: number; bounced: number; complaints: number; skipped: number; pending: number };
  scheduledFor: string;
  startedAt?: string;
  finishedAt?: string;
  /** Start to finish, or start to now while it runs. */
  durationMs?: number;
  fanoutDone: boolean;
  rate?: SendRate;
  /** Seconds until every pending message is settled, at the current rate (only while sending). */
  etaSeconds?: number;
  reason?: string;
  warnings: string[];
  /** When its ledger was compacted, and when its per-reader data went (ops/lifecycle.ts). */
  compactedAt?: string;
  readersDroppedAt?: string;
  /** The newsletter's send queues together (one per provider group with pacing on). */
  queue: { waiting: number; active: number; delayed: number; failed: number; paused: boolean; workers: number };
  /** Set while the mail relay is unreachable (the transport circuit breaker is open): sending is paused for every newsletter. */
  relay?: { unreachableSince: string; lastError?: string; nextProbeAt?: string; probes: number };
  /** Set when the send window closed while the relay was unreachable: the readers it never took were failed. */
  cutoffAt?: string;
  /** Each provider group: this edition's sent and deferred, the group's pace now, a pause (pacing on only). */
  providers?: ProviderPace[];
  /** An edition delivered in readers' zones: each wave (zone, due time, where it stands, its own counts), earliest first. */
  waves?: WaveStatus[];
  /** Things ops should act on (no workers, paused queue, failures). */
  notes: string[];
  history: Array<{ at: string; event: string } & Record<string, unknown>>;
}

export interface WaveStatus {
  zone: string;
  /** The newsletter's own zone: readers without a zone of their own are in it. */
  isDefault: boolean;
  due: string;
  /** waiting (its time has not come), out (queued: its readers are being sent), held (too late for its window). */
  state: Wave['state'];
  forced: boolean;
  reason?: string;
  queued: number;
  sent: number;
  failed: number;
  skipped: number;
  pending: number;
}

/** How far back progress samples count towards the "recent" rate. */
export const rateWindowMs = 60_000;

/** Settled per second over the recent samples (any worker process writes them), if there are enough. */
export async function recentRate(deps: { editions: Pick<EditionStore, 'oldestProgressSince'> }, editionId: string, settledNow: number, now: Date): Promise<SendRate | undefined> {
  const oldest = await deps.editions.oldestProgressSince(editionId, new Date(now.getTime() - rateWindowMs));
  if (!oldest) return undefined;
  const seconds = (now.getTime() - oldest.at.getTime()) / 1000;
  if (seconds < 1) return undefined;
  return { perSecond: Math.max(0, (settledNow - oldest.settled) / seconds), basis: 'recent', windowSeconds: Math.round(seconds) };
}

export function settledCount(e: Pick<Edition, 'sent' | 'failed' | 'skipped'>): number {
  return e.sent + e.failed + e.skipped;
}

/** Everything ops want to know about one edition, from Redis and the queue. */
export async function editionStatus(deps: StatusDeps, id: string, options: { historyLines?: number } = {}): Promise<EditionStatus> {
  const e = await getEditionOrThrow(deps, id);
  const now = deps.clock.now();
  const newsletter = deps.config.newsletters.find((n) => n.id === e.newsletterId);
  const queues = deps.queues.sendQueues(e.newsletterId);
  const [perQueue, pausedQueues, workerCounts, history, breaker, providers, waves] = await Promise.all([
    Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'))),
    Promise.all(queues.map((q) => q.isPaused())),
    Promise.all(queues.map((q) => q.getWorkersCount())),
    deps.editions.history(id, options.historyLines ?? 8),
    deps.transportBreaker.get(),
    deps.config.pacing.enabled ? providerPaces(deps, id) : Promise.resolve(undefined),
    deps.editions.waves(id),
  ]);
  const jobCounts: Record<string, number> = {};
  for (const counts of perQueue) for (const [state, n] of Object.entries(counts)) jobCounts[state] = (jobCounts[state] ?? 0) + n;
  const paused = pausedQueues.some(Boolean);
  // Every process starts a worker on each of the newsletter's queues: the catch-all queue's count is the processes'.
  const workers = workerCounts[0] ?? 0;
  const relay = breaker.open && breaker.since ? { unreachableSince: breaker.since.toISOString(), lastError: breaker.lastError, nextProbeAt: breaker.nextProbeAt?.toISOString(), probes: breaker.probes } : undefined;
  const settled = settledCount(e);
  const pending = pendingCount(e);
  const final = finalStates.has(e.state);
  const end = e.finishedAt ?? (final ? undefined : now);
  const durationMs = e.startedAt && end ? Math.max(0, end.getTime() - e.startedAt.getTime()) : undefined;

  let rate: SendRate | undefined;
  if (!final) rate = await recentRate(deps, id, settled, now);
  if (!rate && durationMs && durationMs >= 1000 && settled > 0) rate = { perSecond: settled / (durationMs / 1000), basis: 'average', windowSeconds: Math.round(durationMs / 1000) };
  // No ETA while nothing can send: a rate from before a crash would promise a finish that never comes.
  const etaSeconds = e.state === 'sending' && pending > 0 && workers > 0 && !paused && !relay && rate && rate.perSecond > 0 ? Math.ceil(pending / rate.perSecond) : undefined;

  const notes: string[] = [];
  if (e.state === 'sending' && pending > 0 && workers === 0) notes.push(`No send workers are connected to the ${e.newsletterId} queue, so nothing is being sent: start \`daybreak worker\`, or run \`daybreak resend ${id} --unsent\`.`);
  if (paused && e.state !== 'paused') notes.push(`The ${e.newsletterId} send queue is paused (another edition of ${e.newsletterId} is paused); sends wait until it is resumed or cancelled.`);
  if (e.state === 'paused') notes.push(`Paused: ${pending} message(s) wait in the queue. \`daybreak resume ${id}\` continues, \`daybreak cancel ${id}\` stops for good.`);
  if (e.state === 'cancelled' && pending > 0) notes.push(`${pending} message(s) were never sent: the edition was cancelled.`);
  if (e.failed > 0 && (e.state === 'done' || e.state === 'sending')) notes.push(`${e.failed} send(s) failed: \`daybreak resend ${id} --failed --dry-run\` shows which are still deliverable.`);
  if (e.state === 'sending' && e.fanoutDone && pending === 0) notes.push('Every message is settled; the edition will be marked done shortly.');
  if (e.state === 'awaiting-approval' && newsletter) notes.push(approvalNote(e, newsletter, now));
  if (relay && !final) notes.push('Sending is paused by itself until the relay answers; no reader is charged. Readers still unsent when the send window closes are failed with the reason (`resend --failed` sends them later).');
  if (e.cutoffAt && e.failed > 0) notes.push(`The relay was unreachable until the send window closed: the readers it never took are failed with that reason. \`daybreak resend ${id} --failed\` sends them now.`);
  const held = (waves ?? []).filter((w) => w.state === 'held');
  if (held.length) notes.push(`${held.length} wave(s) held as too late for their send window (${held.map((w) => w.zone).join(', ')}): \`daybreak run-edition ${e.newsletterId} --date ${e.localDate} --force\` sends them now.`);
  const next = (waves ?? []).find((w) => w.state === 'waiting');
  if (next && (e.state === 'sending' || e.state === 'paused')) notes.push(`Next wave: ${next.zone} at ${next.due.toISOString()}; ${(waves ?? []).filter((w) => w.state === 'waiting').length} wave(s) still to come.`);
  for (const p of providers ?? []) {
    if (p.pausedUntil) notes.push(`${p.group} is paused until ${p.pausedUntil}: ${p.pauseReason ?? 'it kept deferring'}. Its readers wait, or are failed once the window closes (\`daybreak resend ${id} --failed\` sends them later).`);
    else if (p.deferringSince && p.pace !== undefined && p.fullPace !== undefined && p.pace < p.fullPace) notes.push(`${p.group} has been deferring since ${p.deferringSince} (${p.lastReply ?? 'rate limited'}): sent at ${Math.round(p.pace * 10) / 10} of ${p.fullPace} messages/s; other providers keep their pace.`);
  }

  const waitingJobs = (jobCounts.waiting ?? 0) + (jobCounts.prioritized ?? 0);
  return {
    id: e.id,
    newsletterId: e.newsletterId,
    newsletterName: newsletter?.name ?? e.newsletterId,
    localDate: e.localDate,
    state: e.state,
    final,
    subject: e.subject,
    articles: e.articles,
    counts: { total: e.total, sent: e.sent, failed: e.failed, bounced: e.bounced, complaints: e.complaints, skipped: e.skipped, pending },
    scheduledFor: e.scheduledFor.toISOString(),
    startedAt: e.startedAt?.toISOString(),
    finishedAt: e.finishedAt?.toISOString(),
    durationMs,
    fanoutDone: e.fanoutDone,
    rate,
    etaSeconds,
    reason: e.reason,
    warnings: e.warnings,
    compactedAt: e.compactedAt?.toISOString(),
    readersDroppedAt: e.readersDroppedAt?.toISOString(),
    queue: { waiting: waitingJobs, active: jobCounts.active ?? 0, delayed: jobCounts.delayed ?? 0, failed: jobCounts.failed ?? 0, paused, workers },
    relay,
    cutoffAt: e.cutoffAt?.toISOString(),
    providers,
    waves: waves?.map((w) => ({ zone: w.zone, isDefault: w.isDefault, due: w.due.toISOString(), state: w.state, forced: w.forced, reason: w.reason, queued: w.queued, sent: w.sent, failed: w.failed, skipped: w.skipped, pending: wavePending(w) })),
    notes,
    history,
  };
}

/** Where an edition under the editors' say stands, and what ops can do about it. */
function approvalNote(e: Edition, newsletter: LoadedConfig['newsletters'][number], now: Date): string {
  const say = e.approval ? `${e.approval} by ${e.approvalBy ?? 'an editor'}` : 'no editor has approved or held it';
  const rule = newsletter.approval === 'required' ? 'approval required: nothing is sent until an editor approves' : 'veto: it goes at its slot unless an editor holds it';
  const force = `\`daybreak run-edition ${newsletter.id} --date ${e.localDate} --force\` sends it anyway`;
  if (now < e.scheduledFor) return `Awaiting the editors (${rule}); ${say}. Slot ${e.scheduledFor.toISOString()}. \`daybreak editions approve|hold ${e.id}\`.`;
  return `Past its slot (${e.scheduledFor.toISOString()}) and not sent: ${say} (${rule}). An editor's approval sends it within ${newsletter.sendWindowHours} h of its slot; after that, ${force}.`;
}

/** "2m 05s", "1h 02m", "850 ms" */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
