/** Owner of subscriber records and the email index; every change to a reader goes through one atomic script. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';
import type { ConsentRecord } from './consent';
import { normaliseEmail } from './email';
import { membershipKeyParts, zoneIndexSpec, type ZonedNewsletter } from './membership';
import { consentTextRef, decodeHistory, encodeConsentEntry, encodeHistoryEntry, fromLegacy, implicitHistoryStart, recordFields, statusCodes, statusOf, type RecordField } from './stored-form';

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
  /**
   * The reader's IANA time zone, chosen on the sign-up or preferences page or imported; unset:
   * the newsletter's. A newsletter delivered in readers' zones reaches them at its time in this zone.
   */
  timezone?: string;
}

export interface SubscriberEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

/** One change to a reader: fields (status and newsletters among them), a history entry, a consent entry. */
export interface ReaderChange {
  fields?: Record<string, string | number | undefined>;
  /** Fields to remove (a name cleared). */
  clear?: string[];
  history?: { at: Date; event: string; detail?: Record<string, unknown> };
  consent?: ConsentRecord;
}

const luaDir = path.join(__dirname, 'lua');
const changeScript = loadLuaScript(luaDir, 'change-5.lua');
const appendHistoryScript = loadLuaScript(luaDir, 'append-history-2.lua');
const migrateReaderScript = loadLuaScript(luaDir, 'migrate-reader-4.lua');

/** What migrating a page of readers did (records.migrateLegacy). */
export interface ReaderMigration {
  migrated: number;
  /** Already in the stored form (an earlier, interrupted run got them). */
  already: number;
  /** Ids never used, or erased. */
  missing: number;
  /** Changed while being read (an older process still running): read again on the next pass. */
  changed: string[];
}

function parseList(value: string | undefined): string[] {
  return value ? value.split(',').filter(Boolean) : [];
}

/** A change's fields as stored: short names, the status as its code (stored-form.ts). */
function storedFields(fields: ReaderChange['fields']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v === undefined || k === 'id') continue;
    const name = recordFields[k as RecordField];
    if (!name) throw new Error(`subscriber field ${k} is not stored`);
    out[name] = k === 'status' ? statusCodes[v as SubscriberStatus] : String(v);
  }
  return out;
}

/** A consent entry's arguments to the change script: the entry (its text by reference), the reference, the text, the entry with the text written out. */
export function consentArgs(consent: ConsentRecord | undefined): [string, string, string, string] {
  if (!consent) return ['', '', '', ''];
  if (consent.consentText === undefined) return [encodeConsentEntry(consent), '', '', ''];
  return [encodeConsentEntry(consent, true), consentTextRef(consent.consentText), consent.consentText, encodeConsentEntry(consent, false)];
}

/**
 * Model (stored-form.ts): `sub:<id>` HASH of short fields; `sub:by-email` HASH normalised address
 * -> id; `sub:seq` the last id (ids run from 1 to it, so "everyone" pages by id, skipping the
 * erased); `sub:<id>:history` STRING of entries, the newest `historyEntries` kept. The newsletter
 * sets follow from each change by the membership rule (lua/includes/membership.lua).
 */
export class SubscriberRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly hashOf: (email: string) => string,
    /** `zoned`: the newsletters delivered in readers' own zones (config), whose zone index every change keeps. */
    private readonly options: { historyEntries?: number; zoned?: () => readonly ZonedNewsletter[] } = {},
  ) {}

  /** The zone index spec for the scripts that change readers (lua/includes/zones.lua). */
  zoneSpec(): string {
    return zoneIndexSpec(this.keys, this.options.zoned?.() ?? []);
  }

  private get historyEntries(): number {
    return this.options.historyEntries ?? 50;
  }

  async findIdByEmail(email: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.subscriberByEmail(), normaliseEmail(email))) ?? undefined;
  }

  async get(id: string): Promise<Subscriber | undefined> {
    return this.fromHash(id, await this.redis.hgetall(this.keys.subscriber(id)));
  }

  async findByEmail(email: string): Promise<Subscriber | undefined> {
    const id = await this.findIdByEmail(email);
    return id ? this.get(id) : undefined;
  }

  /** These readers, in order, those that no longer exist left out (one pipeline). */
  async getMany(ids: string[]): Promise<Subscriber[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.subscriber(id));
    const results = (await pipe.exec()) ?? [];
    const out: Subscriber[] = [];
    results.forEach(([error, hash], i) => {
      if (error) throw error;
      const sub = this.fromHash(ids[i] as string, hash as Record<string, string>);
      if (sub) out.push(sub);
    });
    return out;
  }

  private fromHash(id: string, h: Record<string, string>): Subscriber | undefined {
    if (!h.e) return undefined;
    const createdAt = Number(h.t);
    return {
      id,
      email: h.e,
      name: h.n || undefined,
      status: statusOf(h.s),
      newsletters: parseList(h.l),
      emailHash: h.h ?? this.hashOf(h.e),
      createdAt: new Date(createdAt),
      confirmedAt: h.f !== undefined ? new Date(createdAt + Number(h.f)) : undefined,
      updatedAt: new Date(createdAt + Number(h.u ?? 0)),
      source: h.o || undefined,
      timezone: h.z || undefined,
    };
  }

  /** Applies one change atomically (lua/change-5.lua); false when the reader does not exist. */
  async change(id: string, change: ReaderChange, options: { create?: boolean } = {}): Promise<boolean> {
    const fields = storedFields(change.fields);
    const clear = (change.clear ?? []).map((k) => recordFields[k as RecordField] ?? k);
    const reply = await changeScript.run(
      this.redis,
      [this.keys.subscriber(id), this.keys.subscriberHistory(id), this.keys.subscriberConsent(id), this.keys.newsletterCounters(), this.keys.consentTexts()],
      [
        id, ...membershipKeyParts(this.keys), options.create ? '1' : '0',
        Object.keys(fields).length ? JSON.stringify(fields) : '',
        clear.length ? JSON.stringify(clear) : '',
        change.history ? encodeHistoryEntry(change.history.at, change.history.event, change.history.detail) : '',
        this.historyEntries,
        ...consentArgs(change.consent),
        this.zoneSpec(),
      ],
    );
    return reply === 1;
  }

  /** Creates a pending record for a new address; returns the existing id otherwise. HSETNX settles a race: the first id wins. */
  async createPending(email: string, input: { name?: string; timezone?: string; newsletters: string[]; source: string; now: Date; history: boolean }): Promise<{ id: string; created: boolean }> {
    const existing = await this.redis.hget(this.keys.subscriberByEmail(), email);
    if (existing) return { id: existing, created: false };
    const fresh = String(await this.redis.incr(this.keys.subscriberSeq()));
    if (!(await this.redis.hsetnx(this.keys.subscriberByEmail(), email, fresh))) {
      return { id: (await this.redis.hget(this.keys.subscriberByEmail(), email)) as string, created: false };
    }
    const now = input.now.getTime();
    await this.change(fresh, {
      fields: { email, emailHash: this.hashOf(email), status: 'pending', newsletters: input.newsletters.join(','), createdAt: now, updatedAt: now, source: input.source, name: input.name || undefined, timezone: input.timezone || undefined },
      history: input.history ? { at: input.now, event: 'created', detail: { status: 'pending', newsletters: input.newsletters, source: input.source } } : undefined,
    }, { create: true });
    return { id: fresh, created: true };
  }

  /**
   * The welcome email's two fields (stored as `w` and `v`): `welcomeDue` (`<nonce>|<kind>|<newsletters>`, written by the
   * confirmation's own change, so owing a welcome and being confirmed are one atomic fact) and
   * `welcomeSent` (the nonce of the last one sent). A welcome is owed while they differ.
   */
  async welcomeFields(id: string): Promise<{ due?: string; sent?: string }> {
    const [due, sent] = await this.redis.hmget(this.keys.subscriber(id), recordFields.welcomeDue, recordFields.welcomeSent);
    return { due: due || undefined, sent: sent || undefined };
  }

  /** Adds an entry to the reader's history (a bounce, a complaint) for `subscribers show`; the newest entries are kept. */
  async recordHistory(id: string, at: Date, event: string, detail?: Record<string, unknown>): Promise<void> {
    await appendHistoryScript.run(this.redis, [this.keys.subscriber(id), this.keys.subscriberHistory(id)], [encodeHistoryEntry(at, event, detail), this.historyEntries]);
  }

  async history(id: string): Promise<SubscriberEvent[]> {
    const [[, stored], [, record]] = (await this.redis.multi().get(this.keys.subscriberHistory(id)).hmget(this.keys.subscriber(id), 'i', 't', 's', 'l', 'o').exec()) as [[unknown, string | null], [unknown, Array<string | null>]];
    const [i, t, s, l, o] = record;
    const start = implicitHistoryStart({ i, t, s, l, o });
    return [...(start ? [start] : []), ...decodeHistory(stored)];
  }

  /**
   * Pages through every subscriber in id order, from 1 to the last id given (erased ones are
   * gaps): memory stays flat whatever the list's size.
   */
  async *scanAll(pageSize = 500): AsyncGenerator<Subscriber[]> {
    const last = Number((await this.redis.get(this.keys.subscriberSeq())) ?? 0);
    for (let from = 1; from <= last; from += pageSize) {
      const ids = Array.from({ length: Math.min(pageSize, last - from + 1) }, (_, i) => String(from + i));
      const page = await this.getMany(ids);
      if (page.length) yield page;
    }
  }

  /** True while this Redis holds subscribers in the form of an earlier Daybreak (`daybreak migrate` converts them). */
  async hasLegacyData(): Promise<boolean> {
    return (await this.redis.exists(this.keys.legacyAllSubscribers())) === 1;
  }

  /** The last subscriber id given (ids run from 1 to it). */
  async lastId(): Promise<number> {
    return Number((await this.redis.get(this.keys.subscriberSeq())) ?? 0);
  }

  /**
   * `daybreak migrate`: these readers, from an earlier Daybreak's form to the stored form
   * (stored-form.ts), each in one atomic script that first checks the reader is as it was read.
   * Readers already converted are left alone, so a rerun (after a crash) only finishes the rest.
   */
  async migrateLegacy(ids: string[]): Promise<ReaderMigration> {
    const result: ReaderMigration = { migrated: 0, already: 0, missing: 0, changed: [] };
    if (ids.length === 0) return result;
    const hashes = ((await this.redis.pipeline(ids.map((id) => ['hgetall', this.keys.subscriber(id)])).exec()) ?? []).map(([error, h]) => {
      if (error) throw error;
      return h as Record<string, string>;
    });
    const legacy = ids.map((id, i) => ({ id, hash: hashes[i] as Record<string, string> })).filter(({ hash }) => hash.email !== undefined);
    for (const hash of hashes) {
      if (hash.email === undefined) {
        if (hash.e !== undefined) result.already += 1;
        else result.missing += 1;
      }
    }
    if (legacy.length === 0) return result;
    const lists = ((await this.redis.pipeline(legacy.flatMap(({ id }) => [['lrange', this.keys.subscriberHistory(id), '0', '-1'], ['lrange', this.keys.subscriberConsent(id), '0', '-1']])).exec()) ?? []).map(([error, l]) => {
      if (error) throw error;
      return l as string[];
    });
    const readers = legacy.map(({ id, hash }, i) => ({ id, legacy: { hash, history: lists[2 * i] as string[], consent: lists[2 * i + 1] as string[] } }));
    // The consent texts already in the dictionary under the references these readers' texts take.
    const refs = [...new Set(readers.flatMap(({ legacy: l }) => l.consent.map((line) => (JSON.parse(line) as { consentText?: string }).consentText).filter((t): t is string => t !== undefined).map(consentTextRef)))];
    const knownTexts = new Map<string, string>();
    if (refs.length) {
      const values = await this.redis.hmget(this.keys.consentTexts(), ...refs);
      refs.forEach((ref, i) => values[i] != null && knownTexts.set(ref, values[i] as string));
    }
    const replies = await Promise.all(readers.map(({ id, legacy: l }) => {
      const stored = fromLegacy(l, { historyEntries: this.historyEntries, knownTexts });
      return migrateReaderScript.run(
        this.redis,
        [this.keys.subscriber(id), this.keys.subscriberHistory(id), this.keys.subscriberConsent(id), this.keys.consentTexts()],
        [l.hash.updatedAt ?? '', l.history.length, l.consent.length, JSON.stringify(stored.fields), stored.history, stored.consent, ...[...stored.texts].flat()],
      );
    }));
    replies.forEach((reply, i) => {
      if (reply === 'migrated') result.migrated += 1;
      else if (reply === 'done') result.already += 1;
      else if (reply === 'missing') result.missing += 1;
      else result.changed.push(readers[i]?.id as string);
    });
    return result;
  }

  /** The last step of `daybreak migrate`: the legacy index of every subscriber (and the mark of legacy data) goes. */
  async finishLegacyMigration(): Promise<void> {
    await this.redis.unlink(this.keys.legacyAllSubscribers());
  }

  /** Erasure's part: the record, its history and its index entry. */
  async forget(id: string, normalisedEmail: string): Promise<void> {
    await this.redis.multi()
      .hdel(this.keys.subscriberByEmail(), normalisedEmail)
      .del(this.keys.subscriber(id), this.keys.subscriberHistory(id))
      .exec();
  }
}
