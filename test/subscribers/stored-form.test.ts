import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runtime } from '../../src/app/runtime';
import { importCsv } from '../../src/subscribers/csv';
import { consentTextRef, decodeConsent, decodeHistory, encodeConsentEntry, encodeHistoryEntry, entrySeparator, type StoredConsent, type StoredEvent } from '../../src/subscribers/stored-form';
import { prng } from '../helpers/prng';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';

const awkward = ['', 'a', 'I', '=', '=x', '#ref', 'a|b', 'tab\there', 'new\nline', '🌅 Ñúñez 李雷', 'quote "q" \\ back', 'x'.repeat(300), 'sep\x1fin\x1ethere'];

describe('the stored forms of history and consent', () => {
  test('entries read back as written, whatever the text (the two separators become spaces)', () => {
    const random = prng(7);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const clean = (s: string) => s.replace(/[\x1e\x1f]/g, ' ');
    for (let round = 0; round < 300; round++) {
      const events: StoredEvent[] = [];
      const entries: string[] = [];
      for (let i = 0; i < 1 + Math.floor(random() * 4); i++) {
        const event = pick([...awkward.filter(Boolean), 'imported', 'bounced-soft', 'unsubscribed']);
        const detail = random() < 0.3 ? undefined : { text: pick(awkward), n: Math.floor(random() * 1e6), list: [pick(awkward)], nested: { ok: random() < 0.5 } };
        const at = new Date(Date.UTC(2020, 0, 1) + Math.floor(random() * 4e11)).toISOString();
        entries.push(encodeHistoryEntry(at, event, detail));
        events.push({ at, event: clean(event), ...(detail ? { detail } : {}) });
      }
      expect(decodeHistory(entries.join(entrySeparator))).toEqual(events);

      const texts = new Map<string, string>();
      const records: StoredConsent[] = [];
      const consent: string[] = [];
      for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
        const record: StoredConsent = { at: new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 1e10)).toISOString(), action: random() < 0.5 ? 'given' : 'withdrawn', newsletters: random() < 0.2 ? [] : ['national', 'london'].slice(0, 1 + Math.floor(random() * 2)) };
        for (const field of ['form', 'ip', 'userAgent', 'confirmedIp', 'confirmedUserAgent', 'reason'] as const) if (random() < 0.5) record[field] = pick(awkward.filter(Boolean));
        if (random() < 0.5) record.requestedAt = new Date(Date.UTC(2024, 0, 1)).toISOString();
        if (random() < 0.3) record.clickRecords = ['national', 'london'].slice(0, 1 + Math.floor(random() * 2));
        const interned = random() < 0.5;
        if (random() < 0.7) {
          record.consentText = pick(awkward.filter(Boolean));
          if (interned) texts.set(consentTextRef(record.consentText), record.consentText);
        }
        consent.push(encodeConsentEntry(record, interned));
        const expected: StoredConsent = { ...record };
        for (const [k, v] of Object.entries(expected)) if (typeof v === 'string' && k !== 'at' && k !== 'action') (expected as unknown as Record<string, string>)[k] = clean(v);
        // Interned texts are stored whole (the dictionary is not split on separators).
        if (record.consentText !== undefined && interned) expected.consentText = record.consentText;
        records.push(expected);
      }
      expect(decodeConsent(consent.join(entrySeparator), texts)).toEqual(records);
    }
  });
});

describe('readers in their stored form, on Redis', () => {
  let runtime: Runtime;
  let dir: string;

  beforeAll(() => {
    runtime = testRuntime(testConfig(uniquePrefix('stored-form'), { retention: { subscriberHistoryEntries: 3 } }));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-stored-form-'));
  });
  afterAll(async () => {
    await closeRuntime(runtime);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("an imported reader's first history entry follows from the record, and is written out before the first change", async () => {
    const file = path.join(dir, 'readers.csv');
    fs.writeFileSync(file, 'email,name\nann@example.com,Ann\n');
    await importCsv({ store: runtime.subscribers, file, knownNewsletters: ['national'], defaultNewsletters: ['national'], confirmed: true, now: () => new Date('2026-11-24T08:00:00Z') });
    const id = (await runtime.subscribers.findIdByEmail('ann@example.com')) as string;
    expect(await runtime.redis.exists(runtime.keys.subscriberHistory(id))).toBe(0);
    const imported = { at: '2026-11-24T08:00:00.000Z', event: 'imported', detail: { status: 'confirmed', newsletters: ['national'], source: 'import:readers.csv' } };
    expect(await runtime.subscribers.history(id)).toEqual([imported]);
    await runtime.subscribers.unsubscribe(id, { newsletters: ['national'], now: new Date('2026-11-25T08:00:00Z') });
    expect(await runtime.subscribers.history(id)).toEqual([imported, expect.objectContaining({ event: 'unsubscribed', at: '2026-11-25T08:00:00.000Z' })]);
    expect(await runtime.subscribers.get(id)).toMatchObject({ status: 'unsubscribed', createdAt: new Date('2026-11-24T08:00:00Z'), confirmedAt: new Date('2026-11-24T08:00:00Z'), updatedAt: new Date('2026-11-25T08:00:00Z') });
  });

  test('a reader keeps the newest history entries only (retention.subscriberHistoryEntries)', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'bouncy@example.com', newsletters: ['national'], confirmed: true, source: 'test', now: new Date('2026-11-24T08:00:00Z') });
    for (let day = 1; day <= 5; day++) await runtime.subscribers.recordHistory(subscriber.id, new Date(Date.UTC(2026, 10, 24 + day)), 'bounced-soft', { day });
    expect((await runtime.subscribers.history(subscriber.id)).map((h) => h.detail?.day)).toEqual([3, 4, 5]);
    // The consent log is kept whole.
    expect(await runtime.subscribers.consent(subscriber.id)).toHaveLength(1);
  });

  test('a consent text whose reference already names another text is kept written out, and reads back', async () => {
    const text = 'I agree to the daily email.';
    await runtime.redis.hset(runtime.keys.consentTexts(), consentTextRef(text), 'some other text that happens to share the reference');
    const { subscriber } = await runtime.subscribers.add({ email: 'clash@example.com', newsletters: ['national'], confirmed: false, source: 'test' });
    await runtime.subscribers.updatePreferences(subscriber.id, { newsletters: ['national'], now: new Date('2026-11-24T09:00:00Z'), context: { form: 'preferences', consentText: text } });
    await runtime.subscribers.confirm(subscriber.id);
    await runtime.subscribers.updatePreferences(subscriber.id, { newsletters: ['national', 'london'], now: new Date('2026-11-24T10:00:00Z'), context: { form: 'preferences', consentText: text } });
    expect((await runtime.subscribers.consent(subscriber.id)).at(-1)).toMatchObject({ action: 'given', newsletters: ['london'], consentText: text });
  });
});
