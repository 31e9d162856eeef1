/**
 * The subscribers module's use cases (add, sign up, confirm, unsubscribe, preferences, import) over
 * its owners: records (records.ts), membership (membership.ts, one Lua rule), the suppression list,
 * pending sign-ups and the consent log. Callers use this one object; each key has one owner behind it.
 */
import path from 'node:path';
import type Redis from 'ioredis';
import { DaybreakError } from '../core/errors';
import type { Clock } from '../core/clock';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';
import { newNonce } from '../mail/tokens';
import { ConsentLog, type ConsentRecord } from './consent';
import { normaliseEmail } from './email';
import { Membership, membershipKeyParts, type MemberZones, type NewsletterCounts, type ZonedNewsletter } from './membership';
import { SubscriberRecords, type Subscriber, type SubscriberEvent, type SubscriberStatus } from './records';
import { SignupRequests, type PendingSignup, type SignupContext } from './signup-requests';
import { SuppressionList, type Suppression } from './suppression';
import { WelcomeLedger } from './welcome-ledger';
import { cleanText, consentTextRef, textField, timeCode } from './stored-form';

export type { ConsentRecord } from './consent';
export type { MemberZones, NewsletterCounts, ZonedNewsletter } from './membership';
export type { Subscriber, SubscriberEvent, SubscriberStatus } from './records';
export type { PendingSignup, SignupContext } from './signup-requests';
export type { Suppression } from './suppression';

export type SignupRequestResult =
  | { outcome: 'suppressed' }
  /** Confirmed and already on every newsletter asked for: nothing to confirm, nothing stored. */
  | { outcome: 'already-subscribed'; subscriber: Subscriber }
  | { outcome: 'pending'; subscriber: Subscriber; signup: PendingSignup };

export type ConfirmResult =
  | { outcome: 'confirmed'; subscriber: Subscriber; added: string[]; kind: PendingSignup['kind'] }
  | { outcome: 'used'; subscriber?: Subscriber }
  | { outcome: 'suppressed'; subscriber: Subscriber };

/** A welcome email owed for one confirmation: its nonce, the kind of sign-up and the newsletters it confirmed. */
export interface OwedWelcome {
  nonce: string;
  kind: PendingSignup['kind'];
  newsletters: string[];
}

export type ImportRowResult =
  | { outcome: 'created'; id: string }
  | { outcome: 'updated'; id: string }
  | { outcome: 'unchanged'; id: string }
  | { outcome: 'suppressed' }
  | { outcome: 'unsubscribed'; id: string; at?: Date };

/** Why the store refused: the reason is finer than the error code (both suppressed and unsubscribed are `refused`). */
export class SubscriberError extends DaybreakError {
  constructor(message: string, readonly reason: 'suppressed' | 'unsubscribed' | 'not-found') {
    super(reason === 'not-found' ? 'not-found' : 'refused', message);
    this.name = 'SubscriberError';
  }
}

const luaDir = path.join(__dirname, 'lua');
/** The one rule for "may this reader get this newsletter now?", as a script (see lua/includes/deliverable.lua). */
const deliverabilityScript = loadLuaScript(luaDir, 'deliverability-1.lua');
const importRowScript = loadLuaScript(luaDir, 'import-row-5.lua');

export class SubscriberStore {
  readonly records: SubscriberRecords;
  readonly membership: Membership;
  readonly suppressions: SuppressionList;
  readonly signups: SignupRequests;
  readonly consentLog: ConsentLog;
  readonly welcomes: WelcomeLedger;

  /**
   * `clock`: the injected one (tests move it); a caller may still pass `now` for a past event.
   * `historyEntries`: how many of a reader's history entries are kept, newest (config retention).
   */
  /** `zoned`: the newsletters delivered in readers' own zones, whose zone index every change keeps. */
  constructor(private readonly redis: Redis, private readonly keys: Keys, secret: string, private readonly clock: Clock, private readonly options: { historyEntries?: number; zoned?: () => readonly ZonedNewsletter[] } = {}) {
    this.suppressions = new SuppressionList(redis, keys, secret);
    this.records = new SubscriberRecords(redis, keys, (email) => this.suppressions.hashOf(email), options);
    this.membership = new Membership(redis, keys);
    this.signups = new SignupRequests(redis, keys);
    this.consentLog = new ConsentLog(redis, keys);
    this.welcomes = new WelcomeLedger(redis, keys);
  }

  // Reads, each from its owner.
  hashOf(email: string): string { return this.suppressions.hashOf(email); }
  findIdByEmail(email: string): Promise<string | undefined> { return this.records.findIdByEmail(email); }
  get(id: string): Promise<Subscriber | undefined> { return this.records.get(id); }
  findByEmail(email: string): Promise<Subscriber | undefined> { return this.records.findByEmail(email); }
  hasLegacyData(): Promise<boolean> { return this.records.hasLegacyData(); }
  history(id: string): Promise<SubscriberEvent[]> { return this.records.history(id); }
  recordHistory(id: string, at: Date, event: string, detail?: Record<string, unknown>): Promise<void> { return this.records.recordHistory(id, at, event, detail); }
  consent(id: string): Promise<ConsentRecord[]> { return this.consentLog.read(id); }
  pendingSignup(id: string): Promise<PendingSignup | undefined> { return this.signups.get(id); }
  counts(newsletterIds: string[]): Promise<Record<string, NewsletterCounts>> { return this.membership.counts(newsletterIds); }
  pageMembers(newsletterId: string, afterId: number, limit: number): Promise<string[]> { return this.membership.pageMembers(newsletterId, afterId, limit); }
  countMembers(newsletterId: string): Promise<number> { return this.membership.countMembers(newsletterId); }
  memberZones(newsletterId: string): Promise<MemberZones> { return this.membership.memberZones(newsletterId); }
  pageZoneMembers(newsletterId: string, zone: string, afterId: number, limit: number): Promise<string[]> { return this.membership.pageZoneMembers(newsletterId, zone, afterId, limit); }
  reindexZones(newsletter: ZonedNewsletter): Promise<boolean> { return this.membership.reindexZones(newsletter); }
  isSuppressed(email: string): Promise<boolean> { return this.suppressions.isSuppressed(email); }
  suppression(email: string): Promise<Suppression | undefined> { return this.suppressions.suppression(email); }
  unsuppress(email: string): Promise<boolean> { return this.suppressions.unsuppress(email); }
  suppress(email: string, suppression: Omit<Suppression, 'at'> & { at?: string }): Promise<void> {
    return this.suppressions.suppress(email, { ...suppression, at: suppression.at ?? this.clock.now().toISOString() });
  }

  /**
   * Pages through subscribers in id order: a newsletter's confirmed members, or everyone. Memory
   * stays flat whatever the list's size.
   */
  async *scan(options: { newsletterId?: string; pageSize?: number } = {}): AsyncGenerator<Subscriber[]> {
    const pageSize = options.pageSize ?? 500;
    if (!options.newsletterId) {
      yield* this.records.scanAll(pageSize);
      return;
    }
    let after = 0;
    for (;;) {
      const ids = await this.membership.pageMembers(options.newsletterId, after, pageSize);
      if (ids.length === 0) return;
      const page = await this.records.getMany(ids);
      if (page.length) yield page;
      after = Number(ids[ids.length - 1]);
    }
  }

  private async require(id: string): Promise<Subscriber> {
    const sub = await this.get(id);
    if (!sub) throw new SubscriberError(`subscriber ${id} does not exist`, 'not-found');
    return sub;
  }

  /**
   * Adds a subscriber, or adds newsletters to an existing one. `confirmed` puts them straight on
   * the lists (ops adding a known reader, a confirmed import); otherwise they stay pending until
   * they confirm. A suppressed address is refused, and so is an unsubscribed one unless
   * `resubscribe` says the reader asked again.
   */
  async add(request: { email: string; name?: string; timezone?: string; newsletters: string[]; confirmed: boolean; source?: string; resubscribe?: boolean; now?: Date }): Promise<{ subscriber: Subscriber; created: boolean }> {
    const input = { ...request, now: request.now ?? this.clock.now() };
    const now = input.now.getTime();
    const email = normaliseEmail(input.email);
    if (await this.isSuppressed(email)) {
      throw new SubscriberError(`${email} is on the suppression list; remove it there first if the reader really wants mail again`, 'suppressed');
    }
    const { id, created } = await this.records.createPending(email, { newsletters: [], source: input.source ?? '', now: input.now, history: false });
    const existing = await this.require(id);
    if (!created && existing.status === 'unsubscribed' && !input.resubscribe) {
      throw new SubscriberError(`${email} unsubscribed on ${existing.updatedAt.toISOString()}; they must sign up again themselves`, 'unsubscribed');
    }
    const before = existing.status === 'unsubscribed' ? [] : existing.newsletters;
    const newsletters = [...new Set([...before, ...input.newsletters])];
    const status: SubscriberStatus = input.confirmed || existing.status === 'confirmed' ? 'confirmed' : 'pending';
    const given = status !== 'confirmed' ? [] : existing.status === 'confirmed' ? newsletters.filter((n) => !before.includes(n)) : newsletters;
    await this.records.change(id, {
      fields: {
        newsletters: newsletters.join(','), status, updatedAt: now,
        name: input.name || undefined,
        timezone: input.timezone || undefined,
        confirmedAt: status === 'confirmed' && (!existing.confirmedAt || existing.status !== 'confirmed') ? now : undefined,
      },
      history: { at: input.now, event: created ? 'created' : 'updated', detail: { status, newsletters, source: input.source } },
      consent: given.length ? { at: input.now.toISOString(), action: 'given', newsletters: given, form: input.source || 'ops', consentText: 'added by ops' } : undefined,
    });
    return { subscriber: await this.require(id), created };
  }

  /**
   * Double opt-in, step one: records what the reader asked for and returns the nonce for their
   * confirm link. Existing readers are not changed until they confirm (a stranger typing someone's
   * address must not change their subscription); a pending reader's choice is replaced by the
   * latest form. A suppressed address gets nothing stored and nothing sent.
   */
  async requestSignup(input: { email: string; name?: string; timezone?: string; newsletters: string[]; context: SignupContext; now: Date }): Promise<SignupRequestResult> {
    const email = normaliseEmail(input.email);
    if (await this.isSuppressed(email)) return { outcome: 'suppressed' };
    const { id, created } = await this.records.createPending(email, { name: input.name, timezone: input.timezone, newsletters: input.newsletters, source: input.context.form, now: input.now, history: true });
    const subscriber = await this.require(id);
    const kind: PendingSignup['kind'] = created ? 'new' : subscriber.status === 'pending' ? 'again' : subscriber.status === 'confirmed' ? 'change' : 'resubscribe';
    if (kind === 'change' && input.newsletters.every((n) => subscriber.newsletters.includes(n))) {
      await this.records.recordHistory(id, input.now, 'sign-up requested', { kind: 'already subscribed', newsletters: input.newsletters, form: input.context.form });
      return { outcome: 'already-subscribed', subscriber };
    }
    const previous = await this.signups.get(id);
    const signup: PendingSignup = {
      // The same nonce while the sign-up stays unconfirmed, so an earlier email's link still works.
      nonce: previous?.nonce ?? newNonce(),
      kind,
      newsletters: input.newsletters,
      ...(input.name ? { name: input.name } : {}),
      ...(input.timezone ? { timezone: input.timezone } : {}),
      requestedAt: input.now.toISOString(),
      context: input.context,
    };
    await this.signups.put(id, signup);
    if (kind === 'again') {
      // The latest form wins for a reader who has not confirmed yet.
      await this.records.change(id, {
        fields: { newsletters: input.newsletters.join(','), updatedAt: input.now.getTime(), name: input.name || undefined, timezone: input.timezone || undefined },
        history: { at: input.now, event: 'sign-up requested', detail: { kind, newsletters: input.newsletters, form: input.context.form } },
      });
    } else if (!created) {
      await this.records.recordHistory(id, input.now, 'sign-up requested', { kind, newsletters: input.newsletters, form: input.context.form });
    }
    return { outcome: 'pending', subscriber: await this.require(id), signup };
  }

  /**
   * Double opt-in, step two: the confirm link's nonce must match the pending sign-up, which is
   * consumed, so a link works once (an old link cannot re-subscribe someone who left since).
   */
  async confirmSignup(id: string, nonce: string, click: { ip?: string; userAgent?: string; now: Date }): Promise<ConfirmResult> {
    const signup = await this.signups.consume(id, nonce);
    const subscriber = await this.get(id);
    if (!signup || !subscriber) return { outcome: 'used', subscriber };
    if (await this.isSuppressed(subscriber.email)) return { outcome: 'suppressed', subscriber };
    const now = click.now.getTime();
    const before = subscriber.status === 'confirmed' ? subscriber.newsletters : [];
    const newsletters = [...new Set([...before, ...signup.newsletters])];
    const added = newsletters.filter((n) => !before.includes(n));
    // The welcome email (welcome.ts): owed from the same atomic change that confirms, so a crash
    // leaves the reader either unconfirmed or confirmed and owed one, never confirmed and forgotten.
    // The sweep's index goes first: a crash before the change leaves an entry the sweep drops.
    await this.welcomes.expect(id, click.now);
    await this.records.change(id, {
      fields: { status: 'confirmed', newsletters: newsletters.join(','), updatedAt: now, confirmedAt: subscriber.status !== 'confirmed' ? now : undefined, name: signup.name || undefined, timezone: signup.timezone || undefined, welcomeDue: `${nonce}|${signup.kind}|${signup.newsletters.join(',')}` },
      history: { at: click.now, event: 'confirmed', detail: { kind: signup.kind, newsletters, added } },
      consent: {
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
        ...(signup.context.clickRecords?.length ? { clickRecords: signup.context.clickRecords } : {}),
      },
    });
    return { outcome: 'confirmed', subscriber: await this.require(id), added, kind: signup.kind };
  }

  /** The welcome the reader is owed (one per confirmation), or undefined when the last one was sent. */
  async welcomeOwed(id: string): Promise<OwedWelcome | undefined> {
    const { due, sent } = await this.records.welcomeFields(id);
    if (!due) return undefined;
    const [nonce, kind, newsletters] = due.split('|') as [string, PendingSignup['kind'], string];
    if (nonce === sent) return undefined;
    return { nonce, kind, newsletters: (newsletters ?? '').split(',').filter(Boolean) };
  }

  /** The welcome went (or was not needed after all): recorded on the reader, with its history entry. */
  async markWelcomeSent(id: string, welcome: OwedWelcome, at: Date, detail: Record<string, unknown>): Promise<void> {
    await this.records.change(id, { fields: { welcomeSent: welcome.nonce }, history: { at, event: detail.skipped ? 'welcome skipped' : 'welcome sent', detail } });
    if (!(await this.welcomeOwed(id))) await this.welcomes.done(id);
  }

  /** Confirms a pending subscriber: they join each of their newsletters' member lists. */
  async confirm(id: string, now: Date = this.clock.now()): Promise<Subscriber> {
    await this.require(id);
    await this.records.change(id, { fields: { status: 'confirmed', confirmedAt: now.getTime(), updatedAt: now.getTime() }, history: { at: now, event: 'confirmed' } });
    return this.require(id);
  }

  /** Leaves the given newsletters, or all of them; with none left the subscriber is unsubscribed. */
  async unsubscribe(id: string, request: { newsletters?: string[]; reason?: string; now?: Date; form?: string } = {}): Promise<Subscriber> {
    const options = { ...request, now: request.now ?? this.clock.now() };
    const sub = await this.require(id);
    const leaving = options.newsletters ?? sub.newsletters;
    const remaining = sub.newsletters.filter((n) => !leaving.includes(n));
    await this.records.change(id, {
      fields: { newsletters: remaining.join(','), updatedAt: options.now.getTime(), status: remaining.length === 0 ? 'unsubscribed' : undefined },
      history: { at: options.now, event: 'unsubscribed', detail: { newsletters: leaving, reason: options.reason, ...(remaining.length === 0 ? { status: 'unsubscribed' } : {}) } },
      consent: sub.status === 'confirmed' && leaving.length
        ? { at: options.now.toISOString(), action: 'withdrawn', newsletters: leaving, ...(options.form ? { form: options.form } : {}), ...(options.reason ? { reason: options.reason } : {}) }
        : undefined,
    });
    return this.require(id);
  }

  /**
   * The preferences page: the reader (proven by the link in their email) sets their newsletters
   * and name. No newsletters left means unsubscribed; choosing some after unsubscribing
   * re-subscribes them, recorded as consent given on the preferences form.
   */
  async updatePreferences(id: string, input: { name?: string; timezone?: string; newsletters: string[]; now: Date; context: SignupContext }): Promise<{ subscriber: Subscriber; added: string[]; removed: string[] }> {
    const sub = await this.require(id);
    const now = input.now.getTime();
    const before = sub.status === 'unsubscribed' ? [] : sub.newsletters;
    const wanted = [...new Set(input.newsletters)];
    const added = wanted.filter((n) => !before.includes(n));
    const removed = before.filter((n) => !wanted.includes(n));
    if (added.length && (await this.isSuppressed(sub.email))) {
      throw new SubscriberError(`${sub.email} is on the suppression list`, 'suppressed');
    }
    if (input.name !== undefined && input.name !== (sub.name ?? '')) {
      await this.records.change(id, {
        fields: input.name === '' ? {} : { name: input.name },
        clear: input.name === '' ? ['name'] : undefined,
        history: { at: input.now, event: 'name changed', detail: { form: input.context.form } },
      });
    }
    // '' clears it: the newsletter's own zone again.
    if (input.timezone !== undefined && input.timezone !== (sub.timezone ?? '')) {
      await this.records.change(id, {
        fields: input.timezone === '' ? {} : { timezone: input.timezone },
        clear: input.timezone === '' ? ['timezone'] : undefined,
        history: { at: input.now, event: 'time zone changed', detail: { timezone: input.timezone || 'the newsletter\'s', form: input.context.form } },
      });
    }
    if (wanted.length === 0) {
      const after = sub.status === 'unsubscribed' ? await this.require(id) : await this.unsubscribe(id, { reason: 'preferences: none chosen', now: input.now, form: input.context.form });
      return { subscriber: after, added: [], removed };
    }
    if (added.length === 0 && removed.length === 0) return { subscriber: await this.require(id), added, removed };
    const pending = sub.status === 'pending';
    const base = { at: input.now.toISOString(), form: input.context.form, ...(input.context.ip ? { ip: input.context.ip } : {}), ...(input.context.userAgent ? { userAgent: input.context.userAgent } : {}) };
    await this.records.change(id, {
      fields: { newsletters: wanted.join(','), updatedAt: now, ...(sub.status === 'unsubscribed' ? { status: 'confirmed', confirmedAt: now } : {}) },
      history: { at: input.now, event: sub.status === 'unsubscribed' ? 'resubscribed' : 'preferences changed', detail: { added, removed, form: input.context.form } },
      consent: !pending && added.length ? { ...base, action: 'given', newsletters: added, consentText: input.context.consentText } : undefined,
    });
    // Consent withdrawn for what was left, in the same order the log always kept: given, then withdrawn.
    if (!pending && removed.length) await this.records.change(id, { consent: { ...base, action: 'withdrawn', newsletters: removed } });
    return { subscriber: await this.require(id), added, removed };
  }

  /** One CSV row of an import (lua/import-row-5.lua). `confirmed` requires consent the list owner holds. */
  async importRow(input: { email: string; name?: string; timezone?: string; newsletters: string[]; confirmed: boolean; source: string; form: string; consentText: string; now: Date }): Promise<ImportRowResult> {
    const email = normaliseEmail(input.email);
    const reply = (await importRowScript.run(
      this.redis,
      [this.keys.subscriberByEmail(), this.keys.subscriberSeq(), this.keys.suppressions(), this.keys.newsletterCounters(), this.keys.consentTexts()],
      [
        this.keys.subscriber(''), ...membershipKeyParts(this.keys), email, this.hashOf(email), input.name ?? '', input.confirmed ? '1' : '0',
        input.now.getTime(), timeCode(input.now), input.source, cleanText(input.form),
        consentTextRef(input.consentText), input.consentText, textField(input.consentText, false), JSON.stringify(input.source),
        this.options.historyEntries ?? 50, input.timezone ?? '', this.records.zoneSpec(), ...input.newsletters,
      ],
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
}
