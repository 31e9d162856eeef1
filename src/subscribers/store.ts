import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import path from 'node:path';
import { DaybreakError } from '../core/errors';
import { loadLuaScript, LuaScript } from '../core/lua-script';
import { normaliseEmail } from './email';
import { emailHash, newNonce } from '../mail/tokens';

export type SubscriberStatus = 'pending' | 'confirmed' | 'unsubscribed';

export interface Subscriber {
  id: string;
  email: string;
  name?: string;
  status: SubscriberStatus;
  newsletters: string[];
  emailHash: string;
  createdAt: Date;
  confirmedAt?: Date;
  updatedAt: Date;
  source?: string;
}

export interface SubscriberEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

export interface Suppression {
  reason: string;
  source: string;
  at: string;
  evidence?: Record<string, unknown>;
}

/** Where a sign-up came from: kept with the consent record. */
export interface SignupContext {
  /** Which form: `signup-page`, `api`, `embedded:<origin>`, `preferences`, `import:<file>`, `cli`. */
  form: string;
  /** The consent line the reader saw (or, for imports and ops, what vouches for consent). */
  consentText: string;
  ip?: string;
  userAgent?: string;
}

/** One consent event, oldest first in the log; kept until the subscriber is erased. */
export interface ConsentRecord {
  at: string;
  action: 'given' | 'withdrawn';
  newsletters: string[];
  form?: string;
  consentText?: string;
  /** The sign-up request (double opt-in: the form post). */
  requestedAt?: string;
  ip?: string;
  userAgent?: string;
  /** The confirmation click. */
  confirmedIp?: string;
  confirmedUserAgent?: string;
  reason?: string;
}

/** An unconfirmed sign-up waiting for its link to be clicked. */
export interface PendingSignup {
  nonce: string;
  /** new: a new address; again: pending and asked again; change: confirmed, asking for more; resubscribe: had unsubscribed. */
  kind: 'new' | 'again' | 'change' | 'resubscribe';
  newsletters: string[];
  name?: string;
  requestedAt: string;
  context: SignupContext;
}

export type SignupRequestResult =
  | { outcome: 'suppressed' }
  /** Confirmed and already on every newsletter asked for: nothing to confirm, nothing stored. */
  | { outcome: 'already-subscribed'; subscriber: Subscriber }
  | { outcome: 'pending'; subscriber: Subscriber; signup: PendingSignup };

export type ConfirmResult =
  | { outcome: 'confirmed'; subscriber: Subscriber; added: string[]; kind: PendingSignup['kind'] }
  | { outcome: 'used'; subscriber?: Subscriber }
  | { outcome: 'suppressed'; subscriber: Subscriber };

export type ImportRowResult =
  | { outcome: 'created'; id: string }
  | { outcome: 'updated'; id: string }
  | { outcome: 'unchanged'; id: string }
  | { outcome: 'suppressed' }
  | { outcome: 'unsubscribed'; id: string; at?: Date };

export interface NewsletterCounts {
  confirmed: number;
  pending: number;
  /** Readers who have left this newsletter, counted as they leave. */
  unsubscribed: number;
}

/** Why the store refused: the reason is finer than the error code (both suppressed and unsubscribed are `refused`). */
export class SubscriberError extends DaybreakError {
  constructor(message: string, readonly reason: 'suppressed' | 'unsubscribed' | 'not-found') {
    super(reason === 'not-found' ? 'not-found' : 'refused', message);
    this.name = 'SubscriberError';
  }
}

function parseList(value: string | undefined): string[] {
  return value ? value.split(',').filter(Boolean) : [];
}

/** The one rule for "may this reader get this newsletter now?", as a script (see lua/includes/deliverable.lua). */
const deliverabilityScript = loadLuaScript(path.join(__dirname, 'lua'), 'deliverability-1.lua');

/** A pending sign-up lives 30 days: links expire after 7, and an expired link may ask for a new one until then. */
const PENDING_SIGNUP_TTL_SECONDS = 30 * 24 * 3600;

/** Consumes a pending sign-up only if the nonce matches: a confirm link works once. KEYS: signup. ARGV: nonce. */
const consumeSignupScript = new LuaScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ok, rec = pcall(cjson.decode, v)
if ok and type(rec) == 'table' and rec.nonce == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return v
end
return false
`);

/**
 * One imported row, atomically: refuse suppressed and unsubscribed addresses, create a new
 * subscriber, or add newsletters to an existing one; report "unchanged" when there is nothing
 * to add, so a second run of the same file writes nothing.
 * KEYS: byEmail, seq, suppressions, all.
 * ARGV: subPrefix, memberPrefix, memberSuffix, pendingPrefix, pendingSuffix, email, emailHash,
 *       name, confirmed (1|0), nowMs, nowIso, source, form, consentText, then the newsletter ids.
 */
const importRowScript = new LuaScript(`
local byEmail, seq, supp, all = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local subPrefix, mPre, mSuf, pPre, pSuf = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local email, hash, name, confirmed, now, nowIso = ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1', ARGV[10], ARGV[11]
local source, form, consentText = ARGV[12], ARGV[13], ARGV[14]
local wanted = {}
for i = 15, #ARGV do wanted[#wanted + 1] = ARGV[i] end
if redis.call('HEXISTS', supp, hash) == 1 then return {'suppressed'} end
local id = redis.call('HGET', byEmail, email)
if not id then
  id = tostring(redis.call('INCR', seq))
  redis.call('HSET', byEmail, email, id)
  local key = subPrefix .. id
  local status = confirmed and 'confirmed' or 'pending'
  redis.call('HSET', key, 'id', id, 'email', email, 'emailHash', hash, 'status', status, 'newsletters', table.concat(wanted, ','), 'createdAt', now, 'updatedAt', now, 'source', source)
  if name ~= '' then redis.call('HSET', key, 'name', name) end
  if confirmed then redis.call('HSET', key, 'confirmedAt', now) end
  redis.call('ZADD', all, id, id)
  for _, nl in ipairs(wanted) do
    if confirmed then redis.call('ZADD', mPre .. nl .. mSuf, id, id) else redis.call('ZADD', pPre .. nl .. pSuf, id, id) end
  end
  redis.call('RPUSH', key .. ':history', cjson.encode({at = nowIso, event = 'imported', detail = {status = status, newsletters = wanted, source = source}}))
  if confirmed then
    redis.call('RPUSH', key .. ':consent', cjson.encode({at = nowIso, action = 'given', newsletters = wanted, form = form, consentText = consentText}))
  end
  return {'created', id}
end
local key = subPrefix .. id
local cur = redis.call('HMGET', key, 'status', 'newsletters', 'name', 'updatedAt')
if not cur[1] then return redis.error_reply('subscriber ' .. id .. ' is in the email index but has no record') end
if cur[1] == 'unsubscribed' then return {'unsubscribed', id, cur[4] or ''} end
local list, have, added = {}, {}, {}
for nl in string.gmatch(cur[2] or '', '[^,]+') do list[#list + 1] = nl; have[nl] = true end
for _, nl in ipairs(wanted) do
  if not have[nl] then list[#list + 1] = nl; have[nl] = true; added[#added + 1] = nl end
end
local status = cur[1]
if confirmed then status = 'confirmed' end
local setName = name ~= '' and (not cur[3] or cur[3] == '')
if #added == 0 and status == cur[1] and not setName then return {'unchanged', id} end
redis.call('HSET', key, 'newsletters', table.concat(list, ','), 'status', status, 'updatedAt', now)
if setName then redis.call('HSET', key, 'name', name) end
if status == 'confirmed' then
  if cur[1] ~= 'confirmed' then redis.call('HSET', key, 'confirmedAt', now) end
  for _, nl in ipairs(list) do
    redis.call('ZADD', mPre .. nl .. mSuf, id, id)
    redis.call('ZREM', pPre .. nl .. pSuf, id)
  end
else
  for _, nl in ipairs(added) do redis.call('ZADD', pPre .. nl .. pSuf, id, id) end
end
redis.call('RPUSH', key .. ':history', cjson.encode({at = nowIso, event = 'imported', detail = {status = status, added = (#added > 0) and added or nil, source = source}}))
if confirmed then
  local given = (cur[1] == 'confirmed') and added or list
  if #given > 0 then
    redis.call('RPUSH', key .. ':consent', cjson.encode({at = nowIso, action = 'given', newsletters = given, form = form, consentText = consentText}))
  end
end
return {'updated', id}
`);

/** Splits a key built by a Keys method around a placeholder, so Lua can build it for any newsletter. */
function keyParts(build: (id: string) => string): [string, string] {
  const marker = '\u0000';
  const [pre, suf] = build(marker).split(marker) as [string, string];
  return [pre, suf];
}

/**
 * Redis-backed subscriber records, per-newsletter member sets and the suppression list.
 *
 * Model: `sub:<id>` HASH; `sub:by-email` HASH normalised address -> id; `sub:all` ZSET of ids;
 * `nl:<id>:members` ZSET of confirmed ids (fan-out pages through it); `nl:<id>:pending` ZSET of
 * unconfirmed ids; `sub:<id>:history` and `sub:<id>:consent` LISTs of JSON; `sub:<id>:signup`
 * the pending sign-up with its nonce; `suppressed` HASH keyed by the keyed hash of the address.
 */
export class SubscriberStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys, private readonly secret: string) {}

  hashOf(email: string): string {
    return emailHash(this.secret, normaliseEmail(email));
  }

  async findIdByEmail(email: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.subscriberByEmail(), normaliseEmail(email))) ?? undefined;
  }

  async get(id: string): Promise<Subscriber | undefined> {
    return this.fromHash(id, await this.redis.hgetall(this.keys.subscriber(id)));
  }

  private fromHash(id: string, h: Record<string, string>): Subscriber | undefined {
    if (!h.email) return undefined;
    return {
      id,
      email: h.email,
      name: h.name || undefined,
      status: h.status as SubscriberStatus,
      newsletters: parseList(h.newsletters),
      emailHash: h.emailHash ?? this.hashOf(h.email),
      createdAt: new Date(Number(h.createdAt)),
      confirmedAt: h.confirmedAt ? new Date(Number(h.confirmedAt)) : undefined,
      updatedAt: new Date(Number(h.updatedAt)),
      source: h.source || undefined,
    };
  }

  async findByEmail(email: string): Promise<Subscriber | undefined> {
    const id = await this.findIdByEmail(email);
    return id ? this.get(id) : undefined;
  }

  /** Creates a pending record for a new address; returns the existing id otherwise. HSETNX settles a race: the first id wins. */
  private async createPending(email: string, input: { name?: string; newsletters: string[]; source: string; now: number; history: boolean }): Promise<{ id: string; created: boolean }> {
    const existing = await this.redis.hget(this.keys.subscriberByEmail(), email);
    if (existing) return { id: existing, created: false };
    const fresh = String(await this.redis.incr(this.keys.subscriberSeq()));
    if (!(await this.redis.hsetnx(this.keys.subscriberByEmail(), email, fresh))) {
      return { id: (await this.redis.hget(this.keys.subscriberByEmail(), email)) as string, created: false };
    }
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(fresh), {
      id: fresh, email, emailHash: this.hashOf(email), status: 'pending', newsletters: input.newsletters.join(','), createdAt: input.now, updatedAt: input.now, source: input.source,
      ...(input.name ? { name: input.name } : {}),
    });
    tx.zadd(this.keys.allSubscribers(), Number(fresh), fresh);
    for (const nl of input.newsletters) tx.zadd(this.keys.pendingMembers(nl), Number(fresh), fresh);
    if (input.history) tx.rpush(this.keys.subscriberHistory(fresh), this.event(new Date(input.now), 'created', { status: 'pending', newsletters: input.newsletters, source: input.source }));
    await tx.exec();
    return { id: fresh, created: true };
  }

  private event(at: Date, event: string, detail?: Record<string, unknown>): string {
    return JSON.stringify({ at: at.toISOString(), event, ...(detail ? { detail } : {}) } satisfies SubscriberEvent);
  }

  /**
   * Adds a subscriber, or adds newsletters to an existing one. `confirmed` puts them straight on
   * the lists (ops adding a known reader, a confirmed import); otherwise they stay pending until
   * they confirm. A suppressed address is refused, and so is an unsubscribed one unless
   * `resubscribe` says the reader asked again.
   */
  async add(input: { email: string; name?: string; newsletters: string[]; confirmed: boolean; source?: string; resubscribe?: boolean; now?: Date }): Promise<{ subscriber: Subscriber; created: boolean }> {
    const nowDate = input.now ?? new Date();
    const now = nowDate.getTime();
    const email = normaliseEmail(input.email);
    if (await this.isSuppressed(email)) {
      throw new SubscriberError(`${email} is on the suppression list; remove it there first if the reader really wants mail again`, 'suppressed');
    }
    const { id, created } = await this.createPending(email, { newsletters: [], source: input.source ?? '', now, history: false });
    const existing = (await this.get(id)) as Subscriber;
    if (!created && existing.status === 'unsubscribed' && !input.resubscribe) {
      throw new SubscriberError(`${email} unsubscribed on ${existing.updatedAt.toISOString()}; they must sign up again themselves`, 'unsubscribed');
    }
    const before = existing.status === 'unsubscribed' ? [] : existing.newsletters;
    const newsletters = [...new Set([...before, ...input.newsletters])];
    const status: SubscriberStatus = input.confirmed || existing.status === 'confirmed' ? 'confirmed' : 'pending';
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { newsletters: newsletters.join(','), status, updatedAt: now });
    if (input.name !== undefined && input.name !== '') tx.hset(this.keys.subscriber(id), 'name', input.name);
    if (status === 'confirmed') {
      if (!existing.confirmedAt || existing.status !== 'confirmed') tx.hset(this.keys.subscriber(id), 'confirmedAt', now);
      for (const nl of newsletters) {
        tx.zadd(this.keys.members(nl), Number(id), id);
        tx.zrem(this.keys.pendingMembers(nl), id);
      }
      const given = existing.status === 'confirmed' ? newsletters.filter((n) => !before.includes(n)) : newsletters;
      if (given.length) tx.rpush(this.keys.subscriberConsent(id), JSON.stringify({ at: nowDate.toISOString(), action: 'given', newsletters: given, form: input.source || 'ops', consentText: 'added by ops' } satisfies ConsentRecord));
    } else {
      for (const nl of newsletters) tx.zadd(this.keys.pendingMembers(nl), Number(id), id);
    }
    tx.rpush(this.keys.subscriberHistory(id), this.event(nowDate, created ? 'created' : 'updated', { status, newsletters, source: input.source }));
    await tx.exec();
    return { subscriber: (await this.get(id)) as Subscriber, created };
  }

  /**
   * Double opt-in, step one: records what the reader asked for and returns the nonce for their
   * confirm link. Existing readers are not changed until they confirm (a stranger typing someone's
   * address must not change their subscription); a pending reader's choice is replaced by the
   * latest form. A suppressed address gets nothing stored and nothing sent.
   */
  async requestSignup(input: { email: string; name?: string; newsletters: string[]; context: SignupContext; now: Date }): Promise<SignupRequestResult> {
    const email = normaliseEmail(input.email);
    if (await this.isSuppressed(email)) return { outcome: 'suppressed' };
    const now = input.now.getTime();
    const { id, created } = await this.createPending(email, { name: input.name, newsletters: input.newsletters, source: input.context.form, now, history: true });
    const subscriber = (await this.get(id)) as Subscriber;
    const kind: PendingSignup['kind'] = created ? 'new' : subscriber.status === 'pending' ? 'again' : subscriber.status === 'confirmed' ? 'change' : 'resubscribe';
    if (kind === 'change' && input.newsletters.every((n) => subscriber.newsletters.includes(n))) {
      await this.redis.rpush(this.keys.subscriberHistory(id), this.event(input.now, 'sign-up requested', { kind: 'already subscribed', newsletters: input.newsletters, form: input.context.form }));
      return { outcome: 'already-subscribed', subscriber };
    }
    const previous = await this.pendingSignup(id);
    const signup: PendingSignup = {
      // The same nonce while the sign-up stays unconfirmed, so an earlier email's link still works.
      nonce: previous?.nonce ?? newNonce(),
      kind,
      newsletters: input.newsletters,
      ...(input.name ? { name: input.name } : {}),
      requestedAt: input.now.toISOString(),
      context: input.context,
    };
    const tx = this.redis.multi();
    tx.set(this.keys.pendingSignup(id), JSON.stringify(signup), 'EX', PENDING_SIGNUP_TTL_SECONDS);
    if (kind === 'again') {
      // The latest form wins for a reader who has not confirmed yet.
      for (const nl of subscriber.newsletters) if (!input.newsletters.includes(nl)) tx.zrem(this.keys.pendingMembers(nl), id);
      for (const nl of input.newsletters) tx.zadd(this.keys.pendingMembers(nl), Number(id), id);
      tx.hset(this.keys.subscriber(id), { newsletters: input.newsletters.join(','), updatedAt: now, ...(input.name ? { name: input.name } : {}) });
    }
    if (!created) tx.rpush(this.keys.subscriberHistory(id), this.event(input.now, 'sign-up requested', { kind, newsletters: input.newsletters, form: input.context.form }));
    await tx.exec();
    return { outcome: 'pending', subscriber: (await this.get(id)) as Subscriber, signup };
  }

  async pendingSignup(id: string): Promise<PendingSignup | undefined> {
    const raw = await this.redis.get(this.keys.pendingSignup(id));
    return raw ? (JSON.parse(raw) as PendingSignup) : undefined;
  }

  /**
   * Double opt-in, step two: the confirm link's nonce must match the pending sign-up, which is
   * consumed, so a link works once (an old link cannot re-subscribe someone who left since).
   */
  async confirmSignup(id: string, nonce: string, click: { ip?: string; userAgent?: string; now: Date }): Promise<ConfirmResult> {
    const raw = await consumeSignupScript.run(this.redis, [this.keys.pendingSignup(id)], [nonce]);
    const subscriber = await this.get(id);
    if (typeof raw !== 'string' || !subscriber) return { outcome: 'used', subscriber };
    const signup = JSON.parse(raw) as PendingSignup;
    if (await this.isSuppressed(subscriber.email)) return { outcome: 'suppressed', subscriber };
    const now = click.now.getTime();
    const before = subscriber.status === 'confirmed' ? subscriber.newsletters : [];
    const newsletters = [...new Set([...before, ...signup.newsletters])];
    const added = newsletters.filter((n) => !before.includes(n));
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { status: 'confirmed', newsletters: newsletters.join(','), updatedAt: now, ...(subscriber.status !== 'confirmed' ? { confirmedAt: now } : {}), ...(signup.name ? { name: signup.name } : {}) });
    for (const nl of newsletters) tx.zadd(this.keys.members(nl), Number(id), id);
    for (const nl of new Set([...subscriber.newsletters, ...signup.newsletters])) tx.zrem(this.keys.pendingMembers(nl), id);
    tx.rpush(this.keys.subscriberHistory(id), this.event(click.now, 'confirmed', { kind: signup.kind, newsletters, added }));
    const consent: ConsentRecord = {
      at: click.now.toISOString(),
      action: 'given',
      newsletters: signup.newsletters,
      form: signup.context.form,
      consentText: signup.context.consentText,
      requestedAt: signup.requestedAt,
      ...(signup.context.ip ? { ip: signup.context.ip } : {}),
      ...(signup.context.userAgent ? { userAgent: signup.context.userAgent } : {}),
      ...(click.ip ? { confirmedIp: click.ip } : {}),
      ...(click.userAgent ? { confirmedUserAgent: click.userAgent } : {}),
    };
    tx.rpush(this.keys.subscriberConsent(id), JSON.stringify(consent));
    await tx.exec();
    return { outcome: 'confirmed', subscriber: (await this.get(id)) as Subscriber, added, kind: signup.kind };
  }

  /** Confirms a pending subscriber: they join each of their newsletters' member lists. */
  async confirm(id: string, now: Date = new Date()): Promise<Subscriber> {
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { status: 'confirmed', confirmedAt: now.getTime(), updatedAt: now.getTime() });
    for (const nl of sub.newsletters) {
      tx.zadd(this.keys.members(nl), Number(id), id);
      tx.zrem(this.keys.pendingMembers(nl), id);
    }
    tx.rpush(this.keys.subscriberHistory(id), this.event(now, 'confirmed'));
    await tx.exec();
    return (await this.get(id)) as Subscriber;
  }

  /** Leaves the given newsletters, or all of them; with none left the subscriber is unsubscribed. */
  async unsubscribe(id: string, options: { newsletters?: string[]; reason?: string; now?: Date; form?: string } = {}): Promise<Subscriber> {
    const now = options.now ?? new Date();
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    const leaving = options.newsletters ?? sub.newsletters;
    const remaining = sub.newsletters.filter((n) => !leaving.includes(n));
    const tx = this.redis.multi();
    for (const nl of leaving) {
      tx.zrem(this.keys.members(nl), id);
      tx.zrem(this.keys.pendingMembers(nl), id);
      if (sub.status === 'confirmed' && sub.newsletters.includes(nl)) tx.hincrby(this.keys.newsletterCounters(), `${nl}:unsubscribed`, 1);
    }
    tx.hset(this.keys.subscriber(id), { newsletters: remaining.join(','), updatedAt: now.getTime(), ...(remaining.length === 0 ? { status: 'unsubscribed' } : {}) });
    tx.rpush(this.keys.subscriberHistory(id), this.event(now, 'unsubscribed', { newsletters: leaving, reason: options.reason, ...(remaining.length === 0 ? { status: 'unsubscribed' } : {}) }));
    if (sub.status === 'confirmed' && leaving.length) {
      tx.rpush(this.keys.subscriberConsent(id), JSON.stringify({ at: now.toISOString(), action: 'withdrawn', newsletters: leaving, ...(options.form ? { form: options.form } : {}), ...(options.reason ? { reason: options.reason } : {}) } satisfies ConsentRecord));
    }
    await tx.exec();
    return (await this.get(id)) as Subscriber;
  }

  /**
   * The preferences page: the reader (proven by the link in their email) sets their newsletters
   * and name. No newsletters left means unsubscribed; choosing some after unsubscribing
   * re-subscribes them, recorded as consent given on the preferences form.
   */
  async updatePreferences(id: string, input: { name?: string; newsletters: string[]; now: Date; context: SignupContext }): Promise<{ subscriber: Subscriber; added: string[]; removed: string[] }> {
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    const now = input.now.getTime();
    const before = sub.status === 'unsubscribed' ? [] : sub.newsletters;
    const wanted = [...new Set(input.newsletters)];
    const added = wanted.filter((n) => !before.includes(n));
    const removed = before.filter((n) => !wanted.includes(n));
    if (added.length && (await this.isSuppressed(sub.email))) {
      throw new SubscriberError(`${sub.email} is on the suppression list`, 'suppressed');
    }
    if (input.name !== undefined && input.name !== (sub.name ?? '')) {
      if (input.name === '') await this.redis.hdel(this.keys.subscriber(id), 'name');
      else await this.redis.hset(this.keys.subscriber(id), 'name', input.name);
      await this.redis.rpush(this.keys.subscriberHistory(id), this.event(input.now, 'name changed', { form: input.context.form }));
    }
    if (wanted.length === 0) {
      const after = sub.status === 'unsubscribed' ? ((await this.get(id)) as Subscriber) : await this.unsubscribe(id, { reason: 'preferences: none chosen', now: input.now, form: input.context.form });
      return { subscriber: after, added: [], removed };
    }
    if (added.length === 0 && removed.length === 0) return { subscriber: (await this.get(id)) as Subscriber, added, removed };
    const pending = sub.status === 'pending';
    const tx = this.redis.multi();
    tx.hset(this.keys.subscriber(id), { newsletters: wanted.join(','), updatedAt: now, ...(sub.status === 'unsubscribed' ? { status: 'confirmed', confirmedAt: now } : {}) });
    for (const nl of added) tx.zadd(pending ? this.keys.pendingMembers(nl) : this.keys.members(nl), Number(id), id);
    for (const nl of removed) {
      tx.zrem(this.keys.members(nl), id);
      tx.zrem(this.keys.pendingMembers(nl), id);
      if (!pending) tx.hincrby(this.keys.newsletterCounters(), `${nl}:unsubscribed`, 1);
    }
    tx.rpush(this.keys.subscriberHistory(id), this.event(input.now, sub.status === 'unsubscribed' ? 'resubscribed' : 'preferences changed', { added, removed, form: input.context.form }));
    if (!pending) {
      const base = { at: input.now.toISOString(), form: input.context.form, ...(input.context.ip ? { ip: input.context.ip } : {}), ...(input.context.userAgent ? { userAgent: input.context.userAgent } : {}) };
      if (added.length) tx.rpush(this.keys.subscriberConsent(id), JSON.stringify({ ...base, action: 'given', newsletters: added, consentText: input.context.consentText } satisfies ConsentRecord));
      if (removed.length) tx.rpush(this.keys.subscriberConsent(id), JSON.stringify({ ...base, action: 'withdrawn', newsletters: removed } satisfies ConsentRecord));
    }
    await tx.exec();
    return { subscriber: (await this.get(id)) as Subscriber, added, removed };
  }

  /**
   * Erasure: the record, its history, consent log, pending sign-up, index entry and any bounce
   * records naming the address are deleted; the keyed hash goes on the suppression list (replacing any earlier entry, whose evidence may
   * hold personal data) so the address is never imported again.
   */
  async forget(email: string, options: { now: Date; source: string; newsletters: string[] }): Promise<{ id?: string }> {
    const normalised = normaliseEmail(email);
    const previous = await this.suppression(normalised);
    await this.suppress(normalised, { reason: previous ? `erased (was suppressed: ${previous.reason})` : 'erased', source: options.source, at: options.now.toISOString() });
    await this.eraseFromBounceRecords(normalised);
    const id = await this.findIdByEmail(normalised);
    if (!id) return {};
    const sub = await this.get(id);
    const tx = this.redis.multi();
    for (const nl of new Set([...options.newsletters, ...(sub?.newsletters ?? [])])) {
      tx.zrem(this.keys.members(nl), id);
      tx.zrem(this.keys.pendingMembers(nl), id);
    }
    tx.zrem(this.keys.allSubscribers(), id);
    tx.hdel(this.keys.subscriberByEmail(), normalised);
    tx.del(this.keys.subscriber(id), this.keys.subscriberHistory(id), this.keys.subscriberConsent(id), this.keys.pendingSignup(id));
    await tx.exec();
    return { id };
  }

  /**
   * The bounces module's log and its list of unreadable messages name addresses too: an erased
   * address's entries go. (Both are bounded: the log by retention, the list by its cap.)
   */
  private async eraseFromBounceRecords(normalised: string): Promise<void> {
    const mentions = (text: string) => text.toLowerCase().includes(normalised);
    let cursor = '0';
    do {
      const [next, items] = await this.redis.zscan(this.keys.bounceLog(), cursor, 'COUNT', 500);
      cursor = next;
      const members = items.filter((_, i) => i % 2 === 0).filter(mentions);
      if (members.length) await this.redis.zrem(this.keys.bounceLog(), ...members);
    } while (cursor !== '0');
    const unparsed = await this.redis.lrange(this.keys.unparsedBounces(), 0, -1);
    for (const entry of new Set(unparsed.filter(mentions))) await this.redis.lrem(this.keys.unparsedBounces(), 0, entry);
  }

  /** One CSV row of an import (see importRowScript). `confirmed` requires consent the list owner holds. */
  async importRow(input: { email: string; name?: string; newsletters: string[]; confirmed: boolean; source: string; form: string; consentText: string; now: Date }): Promise<ImportRowResult> {
    const email = normaliseEmail(input.email);
    const [mPre, mSuf] = keyParts((nl) => this.keys.members(nl));
    const [pPre, pSuf] = keyParts((nl) => this.keys.pendingMembers(nl));
    const reply = (await importRowScript.run(
      this.redis,
      [this.keys.subscriberByEmail(), this.keys.subscriberSeq(), this.keys.suppressions(), this.keys.allSubscribers()],
      [this.keys.subscriber(''), mPre, mSuf, pPre, pSuf, email, this.hashOf(email), input.name ?? '', input.confirmed ? '1' : '0', input.now.getTime(), input.now.toISOString(), input.source, input.form, input.consentText, ...input.newsletters],
    )) as string[];
    const [outcome, id, at] = reply;
    switch (outcome) {
      case 'created':
      case 'updated':
      case 'unchanged':
        return { outcome, id: id as string };
      case 'suppressed':
        return { outcome };
      case 'unsubscribed':
        return { outcome, id: id as string, ...(at ? { at: new Date(Number(at)) } : {}) };
      default:
        throw new Error(`import of ${email}: unexpected reply ${JSON.stringify(reply)}`);
    }
  }

  /**
   * Pages through subscribers in id order: a newsletter's confirmed members, or everyone. Memory
   * stays flat whatever the list's size.
   */
  async *scan(options: { newsletterId?: string; pageSize?: number } = {}): AsyncGenerator<Subscriber[]> {
    const key = options.newsletterId ? this.keys.members(options.newsletterId) : this.keys.allSubscribers();
    const pageSize = options.pageSize ?? 500;
    let after = 0;
    for (;;) {
      const ids = await this.redis.zrangebyscore(key, `(${after}`, '+inf', 'LIMIT', 0, pageSize);
      if (ids.length === 0) return;
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(this.keys.subscriber(id));
      const results = (await pipe.exec()) ?? [];
      const page: Subscriber[] = [];
      results.forEach(([error, hash], i) => {
        if (error) throw error;
        const sub = this.fromHash(ids[i] as string, hash as Record<string, string>);
        if (sub) page.push(sub);
      });
      if (page.length) yield page;
      after = Number(ids[ids.length - 1]);
    }
  }

  /** Adds an entry to the reader's history (a bounce, a complaint) for `subscribers show`. */
  async recordHistory(id: string, at: Date, event: string, detail?: Record<string, unknown>): Promise<void> {
    await this.redis.rpush(this.keys.subscriberHistory(id), this.event(at, event, detail));
  }

  async history(id: string): Promise<SubscriberEvent[]> {
    return (await this.redis.lrange(this.keys.subscriberHistory(id), 0, -1)).map((line) => JSON.parse(line) as SubscriberEvent);
  }

  async consent(id: string): Promise<ConsentRecord[]> {
    return (await this.redis.lrange(this.keys.subscriberConsent(id), 0, -1)).map((line) => JSON.parse(line) as ConsentRecord);
  }

  /** Confirmed and pending readers per newsletter, and how many have left it. */
  async counts(newsletterIds: string[]): Promise<Record<string, NewsletterCounts>> {
    const pipe = this.redis.pipeline();
    for (const nl of newsletterIds) {
      pipe.zcard(this.keys.members(nl));
      pipe.zcard(this.keys.pendingMembers(nl));
      pipe.hget(this.keys.newsletterCounters(), `${nl}:unsubscribed`);
    }
    const results = (await pipe.exec()) ?? [];
    const out: Record<string, NewsletterCounts> = {};
    newsletterIds.forEach((nl, i) => {
      const value = (j: number) => Number(results[i * 3 + j]?.[1] ?? 0);
      out[nl] = { confirmed: value(0), pending: value(1), unsubscribed: value(2) };
    });
    return out;
  }

  /** One page of a newsletter's confirmed members after `afterId`, in stable id order. */
  async pageMembers(newsletterId: string, afterId: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.members(newsletterId), `(${afterId}`, '+inf', 'LIMIT', 0, limit);
  }

  async countMembers(newsletterId: string): Promise<number> {
    return this.redis.zcard(this.keys.members(newsletterId));
  }

  async suppress(email: string, suppression: Omit<Suppression, 'at'> & { at?: string }): Promise<void> {
    const value: Suppression = { ...suppression, at: suppression.at ?? new Date().toISOString() };
    await this.redis.hset(this.keys.suppressions(), this.hashOf(email), JSON.stringify(value));
  }

  async unsuppress(email: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.suppressions(), this.hashOf(email))) > 0;
  }

  async suppression(email: string): Promise<Suppression | undefined> {
    const raw = await this.redis.hget(this.keys.suppressions(), this.hashOf(email));
    return raw ? (JSON.parse(raw) as Suppression) : undefined;
  }

  /**
   * Why each reader may not get the newsletter now, by the same rule the claim applies right before
   * SMTP (an undefined reason: they may). For planning resends; the claim decides for real.
   */
  async deliverability(newsletterId: string, ids: string[]): Promise<Map<string, { email?: string; reason?: string }>> {
    const out = new Map<string, { email?: string; reason?: string }>();
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const rows = (await deliverabilityScript.run(this.redis, [this.keys.suppressions()], [newsletterId, this.keys.subscriber(''), ...batch])) as Array<[string, string]>;
      batch.forEach((id, k) => {
        const [email, reason] = rows[k] as [string, string];
        out.set(id, { email: email || undefined, reason: reason || undefined });
      });
    }
    return out;
  }

  async isSuppressed(email: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.suppressions(), this.hashOf(email))) === 1;
  }
}
