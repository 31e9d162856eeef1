import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { LuaScript } from '../core/lua-script';
import { TickBatcher } from '../core/tick-batcher';
import type { RenderedEdition } from '../render/contract';
import { type Edition, type EditionArticle, type EditionState } from './edition';
import { claimScript, fanoutDoneScript, fanoutPageScript, releaseScript, settleScript } from './ledger-scripts';

const scripts = {
  fanoutPage: new LuaScript(fanoutPageScript),
  claim: new LuaScript(claimScript),
  settle: new LuaScript(settleScript),
  release: new LuaScript(releaseScript),
  fanoutDone: new LuaScript(fanoutDoneScript),
};

/**
 * How long a claim, or a record, may wait to share one script call with others (see TickBatcher).
 * Claims can wait longer: that only delays a send. A record waiting widens the window in which a
 * crash after SMTP accepted a message could mail that reader twice (docs/architecture.md).
 */
const claimBatchWindowMs = Number(process.env.DAYBREAK_CLAIM_BATCH_MS ?? 20);
const settleBatchWindowMs = Number(process.env.DAYBREAK_SETTLE_BATCH_MS ?? 2);

const createScript = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
return 1
`);

/** Moves an edition between states only from the states given, atomically. */
const transitionScript = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing'} end
for i = 2, #ARGV do
  if ARGV[i] == state then
    redis.call('HSET', KEYS[1], 'state', ARGV[1])
    return {'ok', state}
  end
end
return {'refused', state}
`);

export type ClaimResult =
  | { kind: 'claimed'; email: string; name?: string; previous: string }
  | { kind: 'sent' | 'settled'; previous: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'busy'; holder: string }
  | { kind: 'capped'; used: number }
  | { kind: 'paused' | 'cancelled' }
  | { kind: 'not-sending'; state: string };

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
}

function parseClaimReply(reply: string[]): ClaimResult {
  switch (reply[0]) {
    case 'claimed': return { kind: 'claimed', email: reply[1] as string, name: reply[2] || undefined, previous: reply[3] as string };
    case 'sent': case 'settled': return { kind: reply[0], previous: reply[1] as string };
    case 'skipped': return { kind: 'skipped', reason: reply[1] as string };
    case 'busy': return { kind: 'busy', holder: reply[1] as string };
    case 'capped': return { kind: 'capped', used: Number(reply[1]) };
    case 'paused': case 'cancelled': return { kind: reply[0] };
    default: return { kind: 'not-sending', state: reply[1] as string };
  }
}

export interface LedgerEntry {
  subscriberId: string;
  kind: 'queued' | 'claimed' | 'sent' | 'failed' | 'skipped';
  at?: Date;
  detail?: string;
}

export function parseLedgerValue(subscriberId: string, value: string): LedgerEntry {
  const [code, a, ...rest] = value.split('|');
  switch (code) {
    case 'q': return { subscriberId, kind: 'queued', at: new Date(Number(a)) };
    case 'c': return { subscriberId, kind: 'claimed', detail: `by ${a} until ${new Date(Number(rest[0])).toISOString()}` };
    case 's': return { subscriberId, kind: 'sent', at: new Date(Number(a)), detail: rest.join('|') };
    case 'f': return { subscriberId, kind: 'failed', at: new Date(Number(a)), detail: rest.join('|') };
    default: return { subscriberId, kind: 'skipped', at: new Date(Number(a)), detail: rest.join('|') };
  }
}

function toEdition(id: string, h: Record<string, string>): Edition {
  const date = (v: string | undefined) => (v ? new Date(Number(v)) : undefined);
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
    since: date(h.since),
    cutoff: date(h.cutoff),
    articleIds: h.articleIds ? (JSON.parse(h.articleIds) as string[]) : [],
    articles: h.articles ? (JSON.parse(h.articles) as EditionArticle[]) : [],
    subject: h.subject || undefined,
    fanoutDone: h.fanoutDone === '1',
    total: Number(h.total ?? 0),
    sent: Number(h.sent ?? 0),
    failed: Number(h.failed ?? 0),
    skipped: Number(h.skipped ?? 0),
    bounced: Number(h.bounced ?? 0),
    complaints: Number(h.complaints ?? 0),
    reason: h.reason || undefined,
    warnings: h.warnings ? (JSON.parse(h.warnings) as string[]) : [],
    forced: h.forced === '1',
  };
}

/** Editions, their stored content and their delivery ledger, in Redis. */
export class EditionStore {
  constructor(readonly redis: Redis, readonly keys: Keys) {}

  /** Creates the edition unless it exists; true when this call created it. */
  async createIfAbsent(input: { id: string; newsletterId: string; localDate: string; trigger: Edition['trigger']; scheduledFor: Date; now: Date }): Promise<boolean> {
    const fields: Record<string, string | number> = {
      id: input.id, newsletterId: input.newsletterId, localDate: input.localDate, state: 'created', trigger: input.trigger,
      scheduledFor: input.scheduledFor.getTime(), createdAt: input.now.getTime(), total: 0, sent: 0, failed: 0, skipped: 0, fanoutDone: 0,
    };
    const created = await createScript.run(this.redis, [this.keys.edition(input.id), this.keys.editionsOf(input.newsletterId), this.keys.allEditions()], [
      input.scheduledFor.getTime(), input.id, ...Object.entries(fields).flat(),
    ]);
    if (created === 1) await this.log(input.id, input.now, 'created', { trigger: input.trigger });
    return created === 1;
  }

  async get(id: string): Promise<Edition | undefined> {
    const h = await this.redis.hgetall(this.keys.edition(id));
    return h.state ? toEdition(id, h) : undefined;
  }

  async update(id: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.edition(id), fields);
  }

  /** Moves to `to` only from one of `from`; tells what the state was. */
  async transition(id: string, to: EditionState, from: EditionState[]): Promise<{ ok: boolean; previous?: string }> {
    const reply = (await transitionScript.run(this.redis, [this.keys.edition(id)], [to, ...from])) as string[];
    return { ok: reply[0] === 'ok', previous: reply[1] };
  }

  async log(id: string, at: Date, event: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.redis.rpush(this.keys.editionHistory(id), JSON.stringify({ at: at.toISOString(), event, ...detail }));
  }

  async history(id: string): Promise<Array<{ at: string; event: string } & Record<string, unknown>>> {
    return (await this.redis.lrange(this.keys.editionHistory(id), 0, -1)).map((l) => JSON.parse(l));
  }

  /** Editions of a newsletter, newest first. */
  async list(newsletterId: string | undefined, limit: number): Promise<Edition[]> {
    const key = newsletterId ? this.keys.editionsOf(newsletterId) : this.keys.allEditions();
    const ids = await this.redis.zrevrange(key, 0, limit - 1);
    const editions = await Promise.all(ids.map((id) => this.get(id)));
    return editions.filter((e): e is Edition => e !== undefined);
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

  async saveContent(id: string, rendered: RenderedEdition, mimeTemplateJson: string): Promise<void> {
    await this.redis.multi().set(this.keys.editionContent(id), JSON.stringify(rendered)).set(this.keys.editionMime(id), mimeTemplateJson).exec();
  }

  async content(id: string): Promise<RenderedEdition | undefined> {
    const raw = await this.redis.get(this.keys.editionContent(id));
    return raw ? (JSON.parse(raw) as RenderedEdition) : undefined;
  }

  async mimeTemplateJson(id: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.editionMime(id))) ?? undefined;
  }

  // Ledger

  async fanoutPage(edition: Edition, subscriberIds: string[], now: Date): Promise<string[]> {
    if (subscriberIds.length === 0) return [];
    const keys = [this.keys.edition(edition.id), this.keys.ledger(edition.id), this.keys.suppressions(), ...subscriberIds.map((s) => this.keys.subscriber(s))];
    return (await scripts.fanoutPage.run(this.redis, keys, [now.getTime(), edition.newsletterId, ...subscriberIds])) as string[];
  }

  async fanoutDone(id: string, now: Date): Promise<boolean> {
    return (await scripts.fanoutDone.run(this.redis, [this.keys.edition(id)], [now.getTime()])) === 1;
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    const key = `${input.editionId}|${input.newsletterId}|${input.localDate}|${input.dailyCap ?? ''}`;
    return this.claims.add(key, input);
  }

  /** Records sent (s), failed (f) or skipped (k); true when that settled the whole edition. */
  async settle(editionId: string, subscriberId: string, kind: 's' | 'f' | 'k', detail: string, now: Date): Promise<boolean> {
    const clean = detail.replace(/[\r\n]+/g, ' ').slice(0, 500);
    return this.settles.add(editionId, { subscriberId, kind, detail: clean, now });
  }

  // Concurrent jobs' claims and records go to Redis together: one script call per event-loop turn.
  private readonly claims = new TickBatcher<ClaimInput, ClaimResult>(async (_key, inputs) => {
    const first = inputs[0] as ClaimInput;
    const now = Math.max(...inputs.map((i) => i.now.getTime()));
    const keys = [this.keys.edition(first.editionId), this.keys.ledger(first.editionId), this.keys.suppressions(), this.keys.dailySendCount(first.newsletterId, first.localDate), ...inputs.map((i) => this.keys.subscriber(i.subscriberId))];
    const args: (string | number)[] = [now, first.newsletterId, first.dailyCap ?? ''];
    for (const i of inputs) args.push(i.subscriberId, i.owner, i.now.getTime() + i.leaseMs, i.force ? '1' : '0');
    const replies = (await scripts.claim.run(this.redis, keys, args)) as string[][];
    return replies.map(parseClaimReply);
  }, 200, claimBatchWindowMs);

  private readonly settles = new TickBatcher<{ subscriberId: string; kind: 's' | 'f' | 'k'; detail: string; now: Date }, boolean>(async (editionId, entries) => {
    const now = Math.max(...entries.map((e) => e.now.getTime()));
    const args: (string | number)[] = [now];
    for (const e of entries) args.push(e.subscriberId, e.kind, e.detail);
    const finished = (await scripts.settle.run(this.redis, [this.keys.edition(editionId), this.keys.ledger(editionId)], args)) === 1;
    return entries.map(() => finished);
  }, 200, settleBatchWindowMs);

  async release(editionId: string, subscriberId: string, owner: string, now: Date): Promise<void> {
    await scripts.release.run(this.redis, [this.keys.ledger(editionId)], [subscriberId, owner, now.getTime()]);
  }

  async ledgerEntry(editionId: string, subscriberId: string): Promise<LedgerEntry | undefined> {
    const v = await this.redis.hget(this.keys.ledger(editionId), subscriberId);
    return v ? parseLedgerValue(subscriberId, v) : undefined;
  }

  /** Streams the ledger in pages (HSCAN), never whole. */
  async *scanLedger(editionId: string, count = 1000): AsyncGenerator<LedgerEntry> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(editionId), cursor, 'COUNT', count);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield parseLedgerValue(flat[i] as string, flat[i + 1] as string);
    } while (cursor !== '0');
  }
}
