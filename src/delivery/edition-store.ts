/** Owner of every edition key: the edition, its content, history, ledger, progress and bounce counts. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';
import { TickBatcher } from '../core/tick-batcher';
import type { EditionContent, RenderedEdition } from '../render/contract';
import { editionTransitions, type Edition, type EditionArticle, type EditionState, type EditionTransition } from './edition';
import type { Wave, WavePlan, WaveState } from './waves';

const luaDir = path.join(__dirname, 'lua');
const scripts = {
  create: loadLuaScript(luaDir, 'create-edition-4.lua'),
  transition: loadLuaScript(luaDir, 'transition-2.lua'),
  storeBuild: loadLuaScript(luaDir, 'store-build-5.lua'),
  fanoutPage: loadLuaScript(luaDir, 'fanout-page-5.lua'),
  fanoutDone: loadLuaScript(luaDir, 'fanout-done-2.lua'),
  claim: loadLuaScript(luaDir, 'claim-7.lua'),
  settle: loadLuaScript(luaDir, 'settle-5.lua'),
  waveState: loadLuaScript(luaDir, 'wave-state-3.lua'),
  releaseWaves: loadLuaScript(luaDir, 'release-waves-2.lua'),
  release: loadLuaScript(luaDir, 'release-1.lua'),
  requeueFailed: loadLuaScript(luaDir, 'requeue-failed-3.lua'),
  giveUp: loadLuaScript(luaDir, 'give-up-5.lua'),
  cutOff: loadLuaScript(luaDir, 'cut-off-2.lua'),
  countBounce: loadLuaScript(luaDir, 'count-bounce-2.lua'),
  rerender: loadLuaScript(luaDir, 'rerender-6.lua'),
  sentArticles: loadLuaScript(luaDir, 'sent-articles-1.lua'),
  compactPage: loadLuaScript(luaDir, 'compact-page-2.lua'),
  compactDone: loadLuaScript(luaDir, 'compact-done-2.lua'),
  fitBitmap: loadLuaScript(luaDir, 'fit-bitmap-1.lua'),
  dropReaders: loadLuaScript(luaDir, 'drop-readers-7.lua'),
};

/**
 * How long a claim, or a record, may wait to share one script call with others (see TickBatcher).
 * Claims can wait longer: that only delays a send. A record waiting widens the window in which a
 * crash after SMTP accepted a message could mail that reader twice (docs/architecture.md), so
 * records go out in the event-loop turn they were made in (0: the records of one turn still share
 * a call; under load that is most of them). A 2 ms wait measured no faster, and its timer fires
 * a whole busy turn late.
 */
const claimBatchWindowMs = Number(process.env.DAYBREAK_CLAIM_BATCH_MS ?? 20);
const settleBatchWindowMs = Number(process.env.DAYBREAK_SETTLE_BATCH_MS ?? 0);

/** Progress samples older than this are dropped (the rate window is one minute). */
const keepProgressMs = 10 * 60_000;

export type ClaimResult =
  | { kind: 'claimed'; email: string; name?: string; previous: string }
  | { kind: 'sent' | 'settled'; previous: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'busy'; holder: string }
  | { kind: 'capped'; used: number }
  | { kind: 'paused' | 'cancelled' }
  | { kind: 'cut-off'; reason: string }
  | { kind: 'not-sending'; state: string };

/** Which readers a wave's fan-out takes: those living in one zone, or all but those whose zone has a wave of its own. */
export type WaveReaders = { only: string } | { except: string[] };

export interface ClaimInput {
  editionId: string;
  newsletterId: string;
  subscriberId: string;
  /** The job that claims: a retry or a stalled job taken over by the same id may claim again. */
  owner: string;
  leaseMs: number;
  now: Date;
  dailyCap?: number;
  localDate: string;
  /** An explicit resend: ignore an earlier sent/failed/skipped record. */
  force?: boolean;
  /** The zone of the wave the reader is sent in (an edition delivered in readers' zones): a skip counts in it. */
  wave?: string;
}

function parseClaimReply(reply: string[]): ClaimResult {
  switch (reply[0]) {
    case 'claimed': return { kind: 'claimed', email: reply[1] as string, name: reply[2] || undefined, previous: reply[3] as string };
    case 'sent': case 'settled': return { kind: reply[0], previous: reply[1] as string };
    case 'skipped': return { kind: 'skipped', reason: reply[1] as string };
    case 'busy': return { kind: 'busy', holder: reply[1] as string };
    case 'capped': return { kind: 'capped', used: Number(reply[1]) };
    case 'paused': case 'cancelled': return { kind: reply[0] };
    case 'cut-off': return { kind: 'cut-off', reason: reply[1] as string };
    default: return { kind: 'not-sending', state: reply[1] as string };
  }
}

export type LedgerKind = 'queued' | 'claimed' | 'sent' | 'failed' | 'skipped';

export interface LedgerEntry {
  subscriberId: string;
  kind: LedgerKind;
  /**
   * When it was queued or settled. A compacted edition's sent readers are bits without a time:
   * theirs is when the edition finished (the latest the copy can have gone).
   */
  at?: Date;
  /**
   * failed/skipped: the reason; claimed: who holds it until when; sent: nothing (its Message-ID is
   * derived again from edition, reader and secret: mail/personalise.ts), except the Message-ID a
   * copy sent before nonces were derived kept until its edition is compacted.
   */
  detail?: string;
}

/** The ledger's value format is the store's business: everything else reads LedgerEntry. */
export function parseLedgerValue(subscriberId: string, value: string, compactedSentAt?: Date): LedgerEntry {
  const [code, a, ...rest] = value.split('|');
  switch (code) {
    case 'q': return { subscriberId, kind: 'queued', at: new Date(Number(a)) };
    case 'c': return { subscriberId, kind: 'claimed', detail: `by ${a} until ${new Date(Number(rest[0])).toISOString()}` };
    // `s|` alone is a compacted reader's bit (includes/ledger.lua); `s|<at>|` one sent since Message-IDs are derived.
    case 's': return a ? { subscriberId, kind: 'sent', at: new Date(Number(a)), ...(rest.join('|') ? { detail: rest.join('|') } : {}) } : { subscriberId, kind: 'sent', at: compactedSentAt };
    case 'f': return { subscriberId, kind: 'failed', at: new Date(Number(a)), detail: rest.join('|') };
    default: return { subscriberId, kind: 'skipped', at: new Date(Number(a)), detail: rest.join('|') };
  }
}

function toEdition(id: string, h: Record<string, string>): Edition {
  const date = (v: string | undefined) => (v ? new Date(Number(v)) : undefined);
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  return {
    id,
    newsletterId: h.newsletterId as string,
    localDate: h.localDate as string,
    state: h.state as EditionState,
    trigger: (h.trigger as Edition['trigger']) ?? 'manual',
    scheduledFor: new Date(Number(h.scheduledFor)),
    createdAt: new Date(Number(h.createdAt)),
    startedAt: date(h.startedAt),
    finishedAt: date(h.finishedAt),
    pausedAt: date(h.pausedAt),
    since: date(h.since),
    cutoff: date(h.cutoff),
    articleIds: h.articleIds ? (JSON.parse(h.articleIds) as string[]) : [],
    articles: h.articles ? (JSON.parse(h.articles) as EditionArticle[]) : [],
    subject: h.subject || undefined,
    mjmlMs: num(h.mjmlMs),
    fanoutDone: h.fanoutDone === '1',
    fanoutCursor: Number(h.fanoutCursor ?? 0),
    fanoutMs: num(h.fanoutMs),
    total: Number(h.total ?? 0),
    sent: Number(h.sent ?? 0),
    failed: Number(h.failed ?? 0),
    skipped: Number(h.skipped ?? 0),
    bounced: Number(h.bounced ?? 0),
    bouncedHard: Number(h.bouncedHard ?? 0),
    blocked: Number(h.blocked ?? 0),
    complaints: Number(h.complaints ?? 0),
    unsubscribes: Number(h.unsubscribes ?? 0),
    breakerTrippedAt: date(h.breakerTrippedAt),
    cutoffAt: date(h.cutoffAt),
    reason: h.reason || undefined,
    warnings: h.warnings ? (JSON.parse(h.warnings) as string[]) : [],
    forced: h.forced === '1',
    approval: h.approval === 'approved' || h.approval === 'held' ? h.approval : undefined,
    approvalBy: h.approvalBy || undefined,
    approvalAt: date(h.approvalAt),
    previewsSentAt: date(h.previewsSentAt),
    approvalOverdueAt: date(h.approvalOverdueAt),
    renders: Number(h.renders ?? (h.subject ? 1 : 0)),
    rev: Number(h.rev ?? 0),
    compactedAt: date(h.compactedAt),
    readersDroppedAt: date(h.readersDroppedAt),
  };
}

/** Where an edition stands in its lifecycle (what ops/lifecycle.ts decides on). */
export type EditionLifecycle = Pick<Edition, 'id' | 'state' | 'finishedAt' | 'compactedAt' | 'readersDroppedAt'>;

/** What compacting one ledger did (EditionStore.compactLedger). */
export interface CompactionResult {
  editionId: string;
  /** False when it was compacted already (by an earlier run, or another process just now). */
  compacted: boolean;
  /** Sent entries moved to bits by this run (a rerun after a crash moves the rest). */
  moved: number;
  /** Readers sent, as bits. */
  sentBits: number;
  /** Entries left in the hash with their detail (failed, skipped, and any never sent). */
  kept: number;
  /** Redis bytes of the ledger (hash and bitmap) before and after (MEMORY USAGE, sampled). */
  bytesBefore: number;
  bytesAfter: number;
  ms: number;
}

/** A set of subscriber ids as bits, growing as needed: memory stays at one bit per id whatever the ledger's size. */
class IdBits {
  private bits = new Uint8Array(1024);
  add(id: number): void {
    const byte = id >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[byte] = (this.bits[byte] as number) | (0x80 >>> (id & 7));
  }
  has(id: number): boolean {
    const byte = id >>> 3;
    return byte < this.bits.length && ((this.bits[byte] as number) & (0x80 >>> (id & 7))) !== 0;
  }
}

export type HistoryEntry = { at: string; event: string } & Record<string, unknown>;

function historyEntry(at: Date, event: string, detail: Record<string, unknown> = {}): string {
  return JSON.stringify({ at: at.toISOString(), event, ...detail });
}

/** A field value as stored: dates as epoch ms, lists as JSON, booleans as 1/0. */
export type EditionFieldValue = string | number | boolean | Date | readonly unknown[];

/** Every value as the string Redis keeps (strings, so Lua's number formatting never touches a timestamp). */
function encodeFields(fields: Record<string, EditionFieldValue | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = v instanceof Date ? String(v.getTime()) : typeof v === 'boolean' ? (v ? '1' : '0') : Array.isArray(v) ? JSON.stringify(v) : String(v);
  }
  return out;
}

export interface TransitionResult {
  ok: boolean;
  /** The state before (undefined when the edition does not exist). */
  previous?: EditionState;
}

/** What a finished build stores, in one atomic call with its move to `sending`. */
export interface StoredBuild {
  newsletterId: string;
  rendered: RenderedEdition;
  mimeTemplateJson: string;
  articles: EditionArticle[];
  since: Date;
  cutoff: Date;
  startedAt: Date;
  mjmlMs: number;
  /** `awaiting-approval`: stored for the editors' say, not sent (the newsletter's approval setting). */
  state?: 'sending' | 'awaiting-approval';
}

/** Editions, their stored content, history, delivery ledger, progress and bounce counts, in Redis. */
export class EditionStore {
  /** `sentArticlesDays`: how long an article id is remembered as sent by its newsletter (config retention). */
  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly options: { sentArticlesDays?: number } = {}) {}

  private sentArticlesSince(now: Date): number {
    return now.getTime() - (this.options.sentArticlesDays ?? 30) * 86_400_000;
  }

  /** Creates the edition unless it exists, with its `created` history entry; true when this call created it. */
  async createIfAbsent(input: { id: string; newsletterId: string; localDate: string; trigger: Edition['trigger']; scheduledFor: Date; now: Date }): Promise<boolean> {
    const fields = encodeFields({
      id: input.id, newsletterId: input.newsletterId, localDate: input.localDate, state: 'created', trigger: input.trigger,
      scheduledFor: input.scheduledFor, createdAt: input.now, total: 0, sent: 0, failed: 0, skipped: 0, fanoutDone: false,
    });
    const created = await scripts.create.run(this.redis, [this.keys.edition(input.id), this.keys.editionsOf(input.newsletterId), this.keys.allEditions(), this.keys.editionHistory(input.id)], [
      input.scheduledFor.getTime(), input.id, historyEntry(input.now, 'created', { trigger: input.trigger }), ...Object.entries(fields).flat(),
    ]);
    return created === 1;
  }

  async get(id: string): Promise<Edition | undefined> {
    const h = await this.redis.hgetall(this.keys.edition(id));
    return h.state ? toEdition(id, h) : undefined;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.edition(id))) === 1;
  }

  /**
   * Applies one transition of the edition's life (see editionTransitions): state, fields and the
   * history entry in one atomic call, only from the states the table allows.
   */
  async apply(id: string, transition: EditionTransition, change: { at: Date; detail?: Record<string, unknown>; fields?: Record<string, EditionFieldValue | undefined>; clear?: string[] }): Promise<TransitionResult> {
    const t = editionTransitions[transition];
    const entry = t.event ? historyEntry(change.at, t.event, change.detail) : '';
    const fields = change.fields ? JSON.stringify(encodeFields(change.fields)) : '';
    const clear = change.clear?.length ? JSON.stringify(change.clear) : '';
    const reply = (await scripts.transition.run(this.redis, [this.keys.edition(id), this.keys.editionHistory(id)], [t.to, entry, fields, clear, ...t.from])) as string[];
    return { ok: reply[0] === 'ok', previous: reply[1] as EditionState | undefined };
  }

  /** An entry in the edition's history that is not a state change (a resend, a compaction). */
  async log(id: string, at: Date, event: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.redis.rpush(this.keys.editionHistory(id), historyEntry(at, event, detail));
  }

  /** The history, oldest first; `last` keeps only the newest entries. */
  async history(id: string, last?: number): Promise<HistoryEntry[]> {
    const lines = await this.redis.lrange(this.keys.editionHistory(id), last === undefined ? 0 : -last, -1);
    return lines.map((l) => JSON.parse(l) as HistoryEntry);
  }

  /** Editions of a newsletter (or all), newest first. */
  async list(newsletterId: string | undefined, limit: number): Promise<Edition[]> {
    const key = newsletterId ? this.keys.editionsOf(newsletterId) : this.keys.allEditions();
    const ids = await this.redis.zrevrange(key, 0, limit - 1);
    const editions = await Promise.all(ids.map((id) => this.get(id)));
    return editions.filter((e): e is Edition => e !== undefined);
  }

  /** Ids of the newest editions of any newsletter scheduled at or before `at`. */
  async idsScheduledBefore(at: Date, limit: number): Promise<string[]> {
    return this.redis.zrevrangebyscore(this.keys.allEditions(), at.getTime(), '-inf', 'LIMIT', 0, limit);
  }

  /**
   * Where every edition scheduled up to `at` stands in its lifecycle, oldest first, a page at a
   * time (only the fields the lifecycle reads, one pipeline per page).
   */
  async *lifecyclePages(at: Date, page = 500): AsyncGenerator<EditionLifecycle[]> {
    for (let offset = 0; ; offset += page) {
      const ids = await this.redis.zrangebyscore(this.keys.allEditions(), '-inf', at.getTime(), 'LIMIT', offset, page);
      if (ids.length) {
        const p = this.redis.pipeline();
        for (const id of ids) p.hmget(this.keys.edition(id), 'state', 'finishedAt', 'compactedAt', 'readersDroppedAt');
        const rows = (await p.exec()) ?? [];
        const date = (v: string | null | undefined) => (v ? new Date(Number(v)) : undefined);
        yield ids.flatMap((id, i) => {
          const [state, finishedAt, compactedAt, readersDroppedAt] = (rows[i]?.[1] ?? []) as Array<string | null>;
          return state ? [{ id, state: state as EditionState, finishedAt: date(finishedAt), compactedAt: date(compactedAt), readersDroppedAt: date(readersDroppedAt) }] : [];
        });
      }
      if (ids.length < page) return;
    }
  }

  /** Sum of one count over every edition of a newsletter (metrics). */
  async sumOf(newsletterId: string, field: 'skipped' | 'bounced' | 'complaints'): Promise<number> {
    const ids = await this.redis.zrange(this.keys.editionsOf(newsletterId), '0', '-1');
    if (ids.length === 0) return 0;
    const p = this.redis.pipeline();
    for (const e of ids) p.hget(this.keys.edition(e), field);
    let sum = 0;
    for (const [, v] of (await p.exec()) ?? []) sum += Number(v ?? 0);
    return sum;
  }

  /** The newest edition of the newsletter scheduled before `before` that actually picked articles. */
  async previousCutoff(newsletterId: string, before: Date): Promise<Date | undefined> {
    const ids = await this.redis.zrevrangebyscore(this.keys.editionsOf(newsletterId), `(${before.getTime()}`, '-inf', 'LIMIT', 0, 20);
    for (const id of ids) {
      const cutoff = await this.redis.hget(this.keys.edition(id), 'cutoff');
      if (cutoff) return new Date(Number(cutoff));
    }
    return undefined;
  }

  /** Which of these articles an earlier edition of the newsletter already sent (within the retention). */
  async alreadySentArticles(newsletterId: string, articleIds: string[]): Promise<Set<string>> {
    if (articleIds.length === 0) return new Set();
    const flags = (await scripts.sentArticles.run(this.redis, [this.keys.sentArticles(newsletterId)], [0, '', ...articleIds])) as number[];
    return new Set(articleIds.filter((_, i) => flags[i] === 1));
  }

  /** `daybreak migrate`: every newsletter's sent articles kept as a SET (an earlier form) becomes a ZSET by time, trimmed. */
  async migrateLegacySentArticles(now: Date): Promise<number> {
    const [pre, suf] = this.keys.sentArticles('\u0000').split('\u0000') as [string, string];
    let converted = 0;
    for await (const keys of this.redis.scanStream({ match: `${pre}*${suf}`, type: 'set', count: 1000 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        await scripts.sentArticles.run(this.redis, [key], [now.getTime(), this.sentArticlesSince(now)]);
        converted += 1;
      }
    }
    return converted;
  }

  /** Forgets the newsletter's articles sent before the retention (the build does it too, as it adds). */
  async trimSentArticles(newsletterId: string, now: Date): Promise<void> {
    await scripts.sentArticles.run(this.redis, [this.keys.sentArticles(newsletterId)], [now.getTime(), this.sentArticlesSince(now)]);
  }

  /** Stores a finished build and moves the edition to `sending` (or `awaiting-approval`), atomically (store-build-5.lua). */
  async storeBuild(id: string, build: StoredBuild, at: Date): Promise<TransitionResult> {
    const state = build.state ?? 'sending';
    const fields = encodeFields({
      renders: 1,
      rev: 0,
      articleIds: build.articles.map((a) => a.id),
      articles: build.articles,
      since: build.since,
      cutoff: build.cutoff,
      subject: build.rendered.subject,
      warnings: build.rendered.warnings,
      startedAt: build.startedAt,
      mjmlMs: build.mjmlMs.toFixed(1),
    });
    const event = state === 'sending' ? editionTransitions.startSending.event : editionTransitions.awaitApproval.event;
    const entry = historyEntry(at, event, { articles: build.articles.length, mjmlMs: Math.round(build.mjmlMs) });
    const reply = (await scripts.storeBuild.run(
      this.redis,
      [this.keys.edition(id), this.keys.editionContent(id), this.keys.editionMime(id), this.keys.sentArticles(build.newsletterId), this.keys.editionHistory(id)],
      [JSON.stringify(build.rendered), build.mimeTemplateJson, JSON.stringify(fields), entry, state, at.getTime(), this.sentArticlesSince(at), ...build.articles.map((a) => a.id)],
    )) as string[];
    return { ok: reply[0] === 'ok', previous: reply[1] as EditionState | undefined };
  }

  /**
   * What a story redirect needs, and nothing else: the newsletter and the article list (ids and
   * URLs), which stay in the edition hash for as long as the edition does.
   */
  async storyTargets(id: string): Promise<{ newsletterId: string; articles: EditionArticle[] } | undefined> {
    const [newsletterId, articles] = await this.redis.hmget(this.keys.edition(id), 'newsletterId', 'articles');
    if (!newsletterId) return undefined;
    return { newsletterId, articles: articles ? (JSON.parse(articles) as EditionArticle[]) : [] };
  }

  /** Keeps the plan an edition under approval is rendered from (full articles), for editors' changes. */
  async saveSource(id: string, source: EditionContent): Promise<void> {
    await this.redis.set(this.keys.editionSource(id), JSON.stringify(source));
  }

  async source(id: string): Promise<EditionContent | undefined> {
    const raw = await this.redis.get(this.keys.editionSource(id));
    if (!raw) return undefined;
    const content = JSON.parse(raw) as EditionContent;
    return { ...content, articles: content.articles.map((a) => ({ ...a, publishedAt: new Date(a.publishedAt) })) };
  }

  /**
   * Stores an edition re-rendered after an editor's change, only while it awaits approval and
   * only on top of the revision the change was made on (rerender-6.lua).
   */
  async storeRerender(id: string, change: { rev: number; newsletterId: string; source: EditionContent; rendered: RenderedEdition; mimeTemplateJson: string; articles: EditionArticle[]; dropped: string[]; clearApproval?: boolean; at: Date; event: string; detail: Record<string, unknown> }): Promise<{ outcome: 'ok' | 'refused' | 'stale' | 'missing'; state?: string }> {
    const fields = encodeFields({
      articleIds: change.articles.map((a) => a.id),
      articles: change.articles,
      subject: change.rendered.subject,
      warnings: change.rendered.warnings,
      ...(change.clearApproval ? { approval: '', approvalBy: '', approvalAt: '' } : {}),
    });
    const reply = (await scripts.rerender.run(
      this.redis,
      [this.keys.edition(id), this.keys.editionContent(id), this.keys.editionMime(id), this.keys.editionSource(id), this.keys.sentArticles(change.newsletterId), this.keys.editionHistory(id)],
      [String(change.rev), JSON.stringify(change.rendered), change.mimeTemplateJson, JSON.stringify(change.source), JSON.stringify(fields), historyEntry(change.at, change.event, change.detail), ...change.dropped],
    )) as string[];
    return { outcome: reply[0] as 'ok' | 'refused' | 'stale' | 'missing', state: reply[1] };
  }

  async content(id: string): Promise<RenderedEdition | undefined> {
    const raw = await this.redis.get(this.keys.editionContent(id));
    return raw ? (JSON.parse(raw) as RenderedEdition) : undefined;
  }

  async mimeTemplateJson(id: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.editionMime(id))) ?? undefined;
  }

  // Fan-out

  /**
   * Queues (or settles as skipped) one page of readers; returns the readers to give send jobs,
   * with the domain of each one's address (pacing groups them by mailbox provider).
   */
  async fanoutPage(edition: Pick<Edition, 'id' | 'newsletterId'>, subscriberIds: string[], now: Date, wave?: { zone: string; readers: WaveReaders }): Promise<Array<{ id: string; domain: string }>> {
    if (subscriberIds.length === 0) return [];
    const filter = !wave ? '' : 'only' in wave.readers ? `only:${wave.readers.only}` : `except:${wave.readers.except.join(';')}`;
    const flat = (await scripts.fanoutPage.run(
      this.redis,
      [this.keys.edition(edition.id), this.keys.ledger(edition.id), this.keys.suppressions(), this.keys.ledgerSent(edition.id), this.keys.editionWaves(edition.id)],
      [now.getTime(), edition.newsletterId, this.keys.subscriber(''), wave?.zone ?? '', filter, ...subscriberIds],
    )) as string[];
    const out: Array<{ id: string; domain: string }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i] as string, domain: flat[i + 1] as string });
    return out;
  }

  /** Where a crashed fan-out resumes: after this subscriber id. */
  async saveFanoutCursor(id: string, cursor: number): Promise<void> {
    await this.redis.hset(this.keys.edition(id), 'fanoutCursor', cursor);
  }

  /**
   * Everyone the edition is for is in the ledger: marks the fan-out done (with its history entry
   * and timing, once) and finishes the edition if they are all settled already. True when finished.
   */
  async fanoutDone(id: string, now: Date, record?: { detail: Record<string, unknown>; ms?: number }): Promise<boolean> {
    if (record?.ms !== undefined) await this.redis.hset(this.keys.edition(id), 'fanoutMs', Math.round(record.ms));
    const entry = record ? historyEntry(now, 'fanned-out', record.detail) : '';
    return (await scripts.fanoutDone.run(this.redis, [this.keys.edition(id), this.keys.editionHistory(id)], [now.getTime(), now.toISOString(), entry])) === 1;
  }

  // Waves (an edition delivered in readers' zones: docs/delivery.md)

  /** Stores the edition's waves as planned (idempotent: a wave planned already keeps its state). */
  async planWaves(id: string, plans: readonly WavePlan[]): Promise<void> {
    const key = this.keys.editionWaves(id);
    const p = this.redis.pipeline();
    for (const w of plans) {
      p.hsetnx(key, `${w.zone}|due`, w.due.getTime());
      p.hsetnx(key, `${w.zone}|state`, 'waiting');
      if (w.isDefault) p.hsetnx(key, `${w.zone}|default`, '1');
    }
    await p.exec();
  }

  /** The edition's waves, earliest first; undefined for an edition sent all at once. */
  async waves(id: string): Promise<Wave[] | undefined> {
    const h = await this.redis.hgetall(this.keys.editionWaves(id));
    const zones = new Set<string>();
    for (const field of Object.keys(h)) if (field.endsWith('|due')) zones.add(field.slice(0, -4));
    if (zones.size === 0) return undefined;
    const n = (zone: string, f: string) => Number(h[`${zone}|${f}`] ?? 0);
    return [...zones].map((zone): Wave => ({
      zone,
      due: new Date(n(zone, 'due')),
      isDefault: h[`${zone}|default`] === '1',
      state: (h[`${zone}|state`] ?? 'waiting') as WaveState,
      forced: h[`${zone}|forced`] === '1',
      reason: h[`${zone}|reason`] || undefined,
      cursor: n(zone, 'cursor'),
      queued: n(zone, 'q'),
      sent: n(zone, 's'),
      failed: n(zone, 'f'),
      skipped: n(zone, 'k'),
    })).sort((a, b) => a.due.getTime() - b.due.getTime() || a.zone.localeCompare(b.zone));
  }

  /** Where a crashed wave fan-out resumes: after this subscriber id. */
  async saveWaveCursor(id: string, zone: string, cursor: number): Promise<void> {
    await this.redis.hset(this.keys.editionWaves(id), `${zone}|cursor`, cursor);
  }

  /**
   * A wave went out (its fan-out queued everyone in it) or is held (too late for its window), with
   * its history entry; when no wave is left waiting the edition's fan-out is done (wave-state-3.lua).
   */
  async settleWave(id: string, zone: string, state: 'out' | 'held', now: Date, detail: Record<string, unknown>): Promise<{ changed: boolean; finished: boolean }> {
    const entry = historyEntry(now, state === 'out' ? 'wave-sent' : 'wave-held', { zone, ...detail });
    const reason = state === 'held' ? String(detail.reason ?? '') : '';
    const [changed, finished] = (await scripts.waveState.run(this.redis, [this.keys.edition(id), this.keys.editionWaves(id), this.keys.editionHistory(id)], [now.getTime(), now.toISOString(), zone, state, entry, reason])) as [number, number];
    return { changed: changed === 1, finished: finished === 1 };
  }

  /** Ops force the held waves out: they wait again, forced past the staleness guard. Returns their zones. */
  async releaseHeldWaves(id: string): Promise<string[]> {
    return (await scripts.releaseWaves.run(this.redis, [this.keys.edition(id), this.keys.editionWaves(id)], [])) as string[];
  }

  // Ledger

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const key = `${input.editionId}|${input.newsletterId}|${input.localDate}|${input.dailyCap ?? ''}`;
    return this.claims.add(key, input);
  }

  /**
   * Records sent (s), failed (f) or skipped (k); true when that settled the whole edition. A sent
   * copy's detail (its Message-ID) is not kept: it is derived again from edition, reader and secret
   * (mail/personalise.ts), so an entry is `s|<at>`. `wave`: the zone of the wave the reader was
   * sent in, whose counts move with it.
   */
  async settle(editionId: string, subscriberId: string, kind: 's' | 'f' | 'k', detail: string, now: Date, wave?: string): Promise<boolean> {
    const clean = kind === 's' ? '' : detail.replace(/[\r\n]+/g, ' ').slice(0, 500);
    return this.settles.add(editionId, { subscriberId, kind, detail: clean, now, wave });
  }

  // Concurrent jobs' claims and records go to Redis together: one script call per batch window.
  private readonly claims = new TickBatcher<ClaimInput, ClaimResult>(async (_key, inputs) => {
    const first = inputs[0] as ClaimInput;
    const now = new Date(Math.max(...inputs.map((i) => i.now.getTime())));
    const keys = [this.keys.edition(first.editionId), this.keys.ledger(first.editionId), this.keys.suppressions(), this.keys.dailySendCount(first.newsletterId, first.localDate), this.keys.editionHistory(first.editionId), this.keys.ledgerSent(first.editionId), this.keys.editionWaves(first.editionId)];
    const args: (string | number)[] = [now.getTime(), now.toISOString(), first.newsletterId, first.dailyCap ?? '', this.keys.subscriber('')];
    for (const i of inputs) args.push(i.subscriberId, i.owner, i.now.getTime() + i.leaseMs, i.force ? '1' : '0', i.wave ?? '');
    const replies = (await scripts.claim.run(this.redis, keys, args)) as string[][];
    return replies.map(parseClaimReply);
  }, 200, claimBatchWindowMs);

  private readonly settles = new TickBatcher<{ subscriberId: string; kind: 's' | 'f' | 'k'; detail: string; now: Date; wave?: string }, boolean>(async (editionId, entries) => {
    const now = new Date(Math.max(...entries.map((e) => e.now.getTime())));
    const args: (string | number)[] = [now.getTime(), now.toISOString()];
    for (const e of entries) args.push(e.subscriberId, e.kind, e.detail, e.wave ?? '');
    const finished = (await scripts.settle.run(this.redis, [this.keys.edition(editionId), this.keys.ledger(editionId), this.keys.editionHistory(editionId), this.keys.ledgerSent(editionId), this.keys.editionWaves(editionId)], args)) === 1;
    return entries.map(() => finished);
  }, 200, settleBatchWindowMs);

  async release(editionId: string, subscriberId: string, owner: string, now: Date): Promise<void> {
    await scripts.release.run(this.redis, [this.keys.ledger(editionId)], [subscriberId, owner, now.getTime()]);
  }

  /**
   * Failed entries back to queued (resend --failed); returns the ids that were still failed. A
   * finished edition is sending again until they are settled, and a window cut-off is lifted.
   */
  async requeueFailed(editionId: string, subscriberIds: string[], now: Date, by = 'resend'): Promise<string[]> {
    const requeued: string[] = [];
    for (let i = 0; i < subscriberIds.length; i += 500) {
      const batch = subscriberIds.slice(i, i + 500);
      requeued.push(...((await scripts.requeueFailed.run(this.redis, [this.keys.edition(editionId), this.keys.ledger(editionId), this.keys.editionHistory(editionId)], [now.getTime(), now.toISOString(), by, ...batch])) as string[]));
    }
    return requeued;
  }

  /**
   * Settles these readers as failed with their reason, but only those still queued or claimed
   * (give-up-5.lua): a reader sent meanwhile stays sent. Returns the ids settled here.
   */
  async giveUp(editionId: string, entries: Array<{ subscriberId: string; reason: string; wave?: string }>, now: Date): Promise<string[]> {
    const settled: string[] = [];
    for (let i = 0; i < entries.length; i += 500) {
      const batch = entries.slice(i, i + 500);
      const args: (string | number)[] = [now.getTime(), now.toISOString()];
      for (const e of batch) args.push(e.subscriberId, e.reason.replace(/[\r\n]+/g, ' ').slice(0, 500), e.wave ?? '');
      const reply = (await scripts.giveUp.run(this.redis, [this.keys.edition(editionId), this.keys.ledger(editionId), this.keys.editionHistory(editionId), this.keys.ledgerSent(editionId), this.keys.editionWaves(editionId)], args)) as number[];
      batch.forEach((e, j) => { if (reply[j + 1] === 1) settled.push(e.subscriberId); });
    }
    return settled;
  }

  /**
   * The edition's send window closed while the relay was unreachable: marks it (once; from then on
   * every claim fails the reader with the reason) and settles every reader still queued or claimed
   * as failed, a page at a time. Returns how many this call settled (0 when it was marked already).
   */
  async cutOff(editionId: string, reason: string, now: Date): Promise<number> {
    const marked = await scripts.cutOff.run(this.redis, [this.keys.edition(editionId), this.keys.editionHistory(editionId)], [now.getTime(), historyEntry(now, 'cut-off', { reason }), reason]);
    if (marked !== 1) return 0;
    let settled = 0;
    let page: Array<{ subscriberId: string; reason: string }> = [];
    for await (const entry of this.scanLedger(editionId)) {
      if (entry.kind !== 'queued' && entry.kind !== 'claimed') continue;
      page.push({ subscriberId: entry.subscriberId, reason });
      if (page.length >= 500) {
        settled += (await this.giveUp(editionId, page, now)).length;
        page = [];
      }
    }
    if (page.length) settled += (await this.giveUp(editionId, page, now)).length;
    return settled;
  }

  /** When a compacted edition's sent readers count as sent: when it finished (see LedgerEntry.at). */
  private async compactedSentAt(editionId: string): Promise<Date | undefined> {
    const finishedAt = await this.redis.hget(this.keys.edition(editionId), 'finishedAt');
    return finishedAt ? new Date(Number(finishedAt)) : undefined;
  }

  /** A reader's entry: in the ledger hash, else (compacted) their sent bit. */
  async ledgerEntry(editionId: string, subscriberId: string): Promise<LedgerEntry | undefined> {
    const v = await this.redis.hget(this.keys.ledger(editionId), subscriberId);
    if (v) return parseLedgerValue(subscriberId, v);
    if (!/^\d+$/.test(subscriberId) || (await this.redis.getbit(this.keys.ledgerSent(editionId), Number(subscriberId))) !== 1) return undefined;
    return { subscriberId, kind: 'sent', at: await this.compactedSentAt(editionId) };
  }

  /** The entries of these readers, in order (undefined: not in the ledger). */
  async ledgerEntries(editionId: string, subscriberIds: string[]): Promise<Array<LedgerEntry | undefined>> {
    if (subscriberIds.length === 0) return [];
    const values = await this.redis.hmget(this.keys.ledger(editionId), ...subscriberIds);
    const entries = values.map((v, i) => (v === null ? undefined : parseLedgerValue(subscriberIds[i] as string, v)));
    // Those not in the hash may be sent bits of a compacted edition: one BITFIELD_RO reads them all.
    const missing = subscriberIds.map((id, i) => ({ id, i })).filter(({ id, i }) => entries[i] === undefined && /^\d+$/.test(id));
    if (missing.length === 0 || (await this.redis.exists(this.keys.ledgerSent(editionId))) === 0) return entries;
    const bits = (await this.redis.call('BITFIELD_RO', this.keys.ledgerSent(editionId), ...missing.flatMap(({ id }) => ['GET', 'u1', id]))) as number[];
    const at = await this.compactedSentAt(editionId);
    missing.forEach(({ id, i }, k) => {
      if (bits[k] === 1) entries[i] = { subscriberId: id, kind: 'sent', at };
    });
    return entries;
  }

  /**
   * Streams the ledger in pages, never whole: the hash (HSCAN), then a compacted edition's sent
   * bits (GETRANGE, 64 KB at a time). Each reader once, even while a compaction moves entries.
   */
  async *scanLedger(editionId: string, count = 1000): AsyncGenerator<LedgerEntry> {
    const seen = new IdBits();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(editionId), cursor, 'COUNT', count);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        const id = flat[i] as string;
        if (/^\d+$/.test(id)) seen.add(Number(id));
        yield parseLedgerValue(id, flat[i + 1] as string);
      }
    } while (cursor !== '0');
    const sentKey = this.keys.ledgerSent(editionId);
    if ((await this.redis.exists(sentKey)) === 0) return;
    const at = await this.compactedSentAt(editionId);
    const chunk = 64 * 1024;
    for (let offset = 0; ; offset += chunk) {
      const bytes = await this.redis.getrangeBuffer(sentKey, offset, offset + chunk - 1);
      for (let b = 0; b < bytes.length; b++) {
        const byte = bytes[b] as number;
        if (byte === 0) continue;
        for (let bit = 0; bit < 8; bit++) {
          if ((byte & (0x80 >>> bit)) === 0) continue;
          const id = (offset + b) * 8 + bit;
          // Moved from the hash after this scan read it there: already yielded.
          if (!seen.has(id)) yield { subscriberId: String(id), kind: 'sent', at };
        }
      }
      if (bytes.length < chunk) return;
    }
  }

  // Lifecycle: compaction after the settle window, per-reader data dropped after the retention

  /** Bytes of the ledger's hash and bitmap (MEMORY USAGE with Redis's default sampling). */
  async ledgerBytes(editionId: string): Promise<number> {
    const sizes = await Promise.all([this.keys.ledger(editionId), this.keys.ledgerSent(editionId)].map((k) => this.redis.call('MEMORY', 'USAGE', k) as Promise<number | null>));
    return sizes.reduce<number>((a, b) => a + Number(b ?? 0), 0);
  }

  /**
   * Compacts a finished edition's ledger: every sent entry becomes a bit in the sent bitmap
   * (keyed by subscriber id) and leaves the hash, which keeps the few others with their detail.
   * A page at a time (HSCAN), each page one atomic script, so it is safe to interrupt anywhere and
   * to run again: a rerun moves what is left, then marks the edition (`compactedAt`) and writes its
   * history entry, once. Callers check the state and the settle window (ops/lifecycle.ts).
   * `afterPage` runs between pages (tests use it to crash mid-way).
   */
  async compactLedger(editionId: string, now: Date, options: { pageSize?: number; afterPage?: (moved: number) => Promise<void> | void } = {}): Promise<CompactionResult> {
    const started = performance.now();
    const ledger = this.keys.ledger(editionId);
    const sentKey = this.keys.ledgerSent(editionId);
    const bytesBefore = await this.ledgerBytes(editionId);
    let moved = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(ledger, cursor, 'COUNT', options.pageSize ?? 1000);
      cursor = next;
      const sent: string[] = [];
      for (let i = 0; i < flat.length; i += 2) if ((flat[i + 1] as string).startsWith('s|')) sent.push(flat[i] as string);
      if (sent.length) moved += Number(await scripts.compactPage.run(this.redis, [ledger, sentKey], sent));
      await options.afterPage?.(moved);
    } while (cursor !== '0');
    await scripts.fitBitmap.run(this.redis, [sentKey], []);
    const [sentBits, kept] = await Promise.all([this.redis.bitcount(sentKey), this.redis.hlen(ledger)]);
    const bytesAfter = await this.ledgerBytes(editionId);
    const ms = performance.now() - started;
    const entry = historyEntry(now, 'compacted', { sent: sentBits, kept, bytesBefore, bytesAfter, ms: Math.round(ms) });
    const compacted = (await scripts.compactDone.run(this.redis, [this.keys.edition(editionId), this.keys.editionHistory(editionId)], [now.getTime(), entry])) === 1;
    return { editionId, compacted, moved, sentBits, kept, bytesBefore, bytesAfter, ms };
  }

  /**
   * After the longer retention: drops the edition's per-reader data (ledger, sent bits, bounced
   * readers, MIME template), keeping its hash (counts), history and stored content (the archive
   * page); logged once. False when it was dropped already.
   */
  async dropReaderData(editionId: string, now: Date, detail: Record<string, unknown> = {}): Promise<boolean> {
    const entry = historyEntry(now, 'reader-data-dropped', detail);
    return (await scripts.dropReaders.run(
      this.redis,
      [this.keys.edition(editionId), this.keys.editionHistory(editionId), this.keys.ledger(editionId), this.keys.ledgerSent(editionId), this.keys.editionBounces(editionId), this.keys.editionMime(editionId), this.keys.editionSource(editionId)],
      [now.getTime(), entry],
    )) === 1;
  }

  // Progress (status's send rate) and bounce counts

  /** A progress sample: the edition's settled count now, kept ten minutes. */
  async recordProgress(editionId: string, at: Date): Promise<void> {
    const [sent, failed, skipped] = await this.redis.hmget(this.keys.edition(editionId), 'sent', 'failed', 'skipped');
    const settled = Number(sent ?? 0) + Number(failed ?? 0) + Number(skipped ?? 0);
    const key = this.keys.editionProgress(editionId);
    const ms = at.getTime();
    await this.redis.multi().zadd(key, ms, `${ms}:${settled}`).zremrangebyscore(key, '-inf', ms - keepProgressMs).pexpire(key, 2 * 24 * 3_600_000).exec();
  }

  /** The oldest progress sample since `since`: {at, settled}. */
  async oldestProgressSince(editionId: string, since: Date): Promise<{ at: Date; settled: number } | undefined> {
    const [oldest] = await this.redis.zrangebyscore(this.keys.editionProgress(editionId), since.getTime(), '+inf', 'LIMIT', 0, 1);
    if (!oldest) return undefined;
    const [ms, settled] = oldest.split(':').map(Number) as [number, number];
    return { at: new Date(ms), settled };
  }

  /**
   * Counts a bounce or complaint against the edition, each reader once per flag (b bounced,
   * h hard, x blocked, c complaint); returns the flags newly counted.
   */
  async countBounce(editionId: string, subscriberId: string, flags: string): Promise<string> {
    return (await scripts.countBounce.run(this.redis, [this.keys.edition(editionId), this.keys.editionBounces(editionId)], [subscriberId, flags])) as string;
  }

  /**
   * Counts an unsubscribe made through a link in this edition (the link names it, signed), each
   * reader once; false when it was counted already or the edition is gone.
   */
  async countUnsubscribe(editionId: string, subscriberId: string): Promise<boolean> {
    return (await this.countBounce(editionId, subscriberId, 'u')) === 'u';
  }

  /** Records that the editors' preview went out (with its history entry). */
  async markPreviewsSent(id: string, at: Date, detail: Record<string, unknown>): Promise<void> {
    await this.redis.multi().hset(this.keys.edition(id), 'previewsSentAt', at.getTime()).rpush(this.keys.editionHistory(id), historyEntry(at, 'preview-sent', detail)).exec();
  }

  /** Records, once, that an edition passed its slot without the approval it needs; true the first time. */
  async markApprovalOverdue(id: string, at: Date, detail: Record<string, unknown>): Promise<boolean> {
    if ((await this.redis.hsetnx(this.keys.edition(id), 'approvalOverdueAt', at.getTime())) !== 1) return false;
    await this.redis.rpush(this.keys.editionHistory(id), historyEntry(at, 'approval-overdue', detail));
    return true;
  }

  /** Marks the bounce circuit breaker as tripped for the edition; false when it already was. */
  async markBreakerTripped(editionId: string, at: Date): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.edition(editionId), 'breakerTrippedAt', at.getTime())) === 1;
  }
}
