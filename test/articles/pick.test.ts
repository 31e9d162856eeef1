import type { Article } from '../../src/articles/article';
import { editionOrder, pickArticles, type PickInput } from '../../src/articles/pick';

const HOUR = 3_600_000;
const cutoff = new Date('2026-11-24T06:00:00.000Z');

/** An article published `hoursBefore` hours before the cutoff (negative: after it). */
function article(id: string, hoursBefore: number, extra: Partial<Article> = {}): Article {
  return {
    id,
    title: `Story ${id}`,
    url: `https://daybreak.example/news/${id}`,
    summaryHtml: '',
    publishedAt: new Date(cutoff.getTime() - hoursBefore * HOUR),
    ...extra,
  };
}

function pick(articles: Article[], overrides: Partial<PickInput> = {}) {
  return pickArticles({
    articles,
    cutoff,
    alreadySent: new Set(),
    rules: { maxArticles: 12, lookbackHours: 24 },
    ...overrides,
  });
}

const ids = (list: Article[]) => list.map((a) => a.id);

describe('pickArticles: window', () => {
  it('first edition looks back lookbackHours from the cutoff', () => {
    const result = pick([article('in', 23), article('old', 25)]);
    expect(result.since.toISOString()).toBe('2026-11-23T06:00:00.000Z');
    expect(result.cutoff.toISOString()).toBe(cutoff.toISOString());
    expect(ids(result.articles)).toEqual(['in']);
    expect(result.excluded.outOfWindow).toBe(1);
  });

  it('honours a longer lookback for the first edition', () => {
    const result = pick([article('a', 30), article('b', 49)], { rules: { maxArticles: 12, lookbackHours: 48 } });
    expect(ids(result.articles)).toEqual(['a']);
    expect(result.since.toISOString()).toBe('2026-11-22T06:00:00.000Z');
  });

  it('starts from the previous cutoff when there is one, even if that is beyond the lookback', () => {
    const lastCutoff = new Date(cutoff.getTime() - 72 * HOUR); // e.g. Monday after a weekend
    const result = pick([article('fri', 70), article('sat', 50), article('before', 73)], { lastCutoff });
    expect(result.since).toEqual(lastCutoff);
    expect(ids(result.articles)).toEqual(['sat', 'fri']);
    expect(result.excluded.outOfWindow).toBe(1);
  });

  it('uses a previous cutoff closer than the lookback, so editions do not overlap', () => {
    const lastCutoff = new Date(cutoff.getTime() - 12 * HOUR);
    const result = pick([article('new', 11), article('sent-window', 13)], { lastCutoff });
    expect(ids(result.articles)).toEqual(['new']);
  });

  it('falls back to the lookback when the previous cutoff is not before this one', () => {
    const same = pick([article('a', 1)], { lastCutoff: new Date(cutoff) });
    expect(same.since.toISOString()).toBe('2026-11-23T06:00:00.000Z');
    expect(ids(same.articles)).toEqual(['a']);
    const later = pick([article('a', 1)], { lastCutoff: new Date(cutoff.getTime() + HOUR) });
    expect(later.since.toISOString()).toBe('2026-11-23T06:00:00.000Z');
  });

  it('excludes an article published exactly at since and includes one exactly at the cutoff', () => {
    const result = pick([article('at-since', 24), article('at-cutoff', 0), article('just-after-since', 24 - 1 / 3_600_000)]);
    expect(ids(result.articles).sort()).toEqual(['at-cutoff', 'just-after-since']);
    expect(result.excluded.outOfWindow).toBe(1);
  });

  it('leaves articles published after the cutoff for the next edition', () => {
    const result = pick([article('future', -0.001), article('now', 0)]);
    expect(ids(result.articles)).toEqual(['now']);
    expect(result.excluded.outOfWindow).toBe(1);
  });

  it('treats an invalid publishedAt as out of window', () => {
    const broken = article('broken', 1, { publishedAt: new Date('nonsense') });
    const result = pick([broken, article('ok', 1)]);
    expect(ids(result.articles)).toEqual(['ok']);
    expect(result.excluded.outOfWindow).toBe(1);
  });
});

describe('pickArticles: order and cap', () => {
  it('puts featured first, then newest first, then id order for ties', () => {
    const result = pick([
      article('c', 5),
      article('b', 2),
      article('feat-old', 20, { featured: true }),
      article('a2', 3),
      article('a1', 3),
      article('feat-new', 1, { featured: true }),
    ]);
    expect(ids(result.articles)).toEqual(['feat-new', 'feat-old', 'b', 'a1', 'a2', 'c']);
  });

  it('is independent of input order', () => {
    const list = [article('x', 3), article('y', 3), article('z', 1, { featured: true }), article('w', 8)];
    const forward = ids(pick(list).articles);
    const backward = ids(pick([...list].reverse()).articles);
    expect(forward).toEqual(['z', 'x', 'y', 'w']);
    expect(backward).toEqual(forward);
  });

  it('caps at maxArticles, keeping the leading ones', () => {
    const list = Array.from({ length: 20 }, (_, i) => article(`s${String(i).padStart(2, '0')}`, i + 0.5));
    const result = pick(list, { rules: { maxArticles: 5, lookbackHours: 24 } });
    expect(ids(result.articles)).toEqual(['s00', 's01', 's02', 's03', 's04']);
    expect(result.considered).toBe(20);
  });

  it('lets a featured article in even when the cap is full of newer stories', () => {
    const list = [article('n1', 1), article('n2', 2), article('n3', 3), article('f', 23, { featured: true })];
    const result = pick(list, { rules: { maxArticles: 2, lookbackHours: 24 } });
    expect(ids(result.articles)).toEqual(['f', 'n1']);
  });

  it('returns nothing (not an error) when nothing is new', () => {
    const result = pick([article('old', 30)]);
    expect(result.articles).toEqual([]);
    expect(result.considered).toBe(1);
    expect(result.excluded).toEqual({ alreadySent: 0, outOfWindow: 1, duplicates: 0 });
  });

  it('editionOrder sorts the same way pickArticles does', () => {
    const list = [article('b', 1), article('a', 1), article('f', 9, { featured: true })];
    expect(ids([...list].sort(editionOrder))).toEqual(['f', 'a', 'b']);
  });
});

describe('pickArticles: already sent and duplicates', () => {
  it('never picks an article whose id was already sent, whatever its date', () => {
    const result = pick([article('sent', 1, { featured: true }), article('fresh', 2)], { alreadySent: new Set(['sent']) });
    expect(ids(result.articles)).toEqual(['fresh']);
    expect(result.excluded.alreadySent).toBe(1);
  });

  it('counts an already-sent article once, as already sent, even when also out of window', () => {
    const result = pick([article('sent-old', 40)], { alreadySent: new Set(['sent-old']) });
    expect(result.excluded).toEqual({ alreadySent: 1, outOfWindow: 0, duplicates: 0 });
  });

  it('keeps one copy of an id, the one that leads (featured/newest)', () => {
    const result = pick([
      article('dup', 5, { title: 'older copy' }),
      article('dup', 2, { title: 'newer copy' }),
      article('other', 3),
    ]);
    expect(result.articles.map((a) => a.title)).toEqual(['newer copy', 'Story other']);
    expect(result.excluded.duplicates).toBe(1);
  });

  it('de-duplicates by URL across different ids (host case and #fragment ignored)', () => {
    const result = pick([
      article('guid-1', 2, { url: 'https://Daybreak.example/news/same#top' }),
      article('guid-2', 4, { url: 'https://daybreak.example/news/same' }),
      article('guid-3', 3, { url: 'https://daybreak.example/news/different' }),
    ]);
    expect(ids(result.articles)).toEqual(['guid-1', 'guid-3']);
    expect(result.excluded.duplicates).toBe(1);
  });

  it('does not let an out-of-window copy knock out an in-window one', () => {
    const result = pick([article('dup', 30), article('dup', 3)]);
    expect(result.articles).toHaveLength(1);
    expect(result.articles[0].publishedAt.getTime()).toBe(cutoff.getTime() - 3 * HOUR);
    expect(result.excluded).toEqual({ alreadySent: 0, outOfWindow: 1, duplicates: 0 });
  });

  it('reports every exclusion, and considered is the input size', () => {
    const result = pick(
      [article('a', 1), article('a', 2), article('b', 50), article('c', 3), article('d', 4)],
      { alreadySent: new Set(['c']), rules: { maxArticles: 12, lookbackHours: 24 } },
    );
    expect(result.considered).toBe(5);
    expect(result.excluded).toEqual({ alreadySent: 1, outOfWindow: 1, duplicates: 1 });
    expect(ids(result.articles)).toEqual(['a', 'd']);
  });
});

describe('pickArticles: input checks and purity', () => {
  it('refuses an invalid cutoff or rules with a message naming the problem', () => {
    expect(() => pick([], { cutoff: new Date('x') })).toThrow(/cutoff is an invalid date/);
    expect(() => pick([], { rules: { maxArticles: 2.5, lookbackHours: 24 } })).toThrow(/maxArticles .* 2\.5/);
    expect(() => pick([], { rules: { maxArticles: 3, lookbackHours: 0 } })).toThrow(/lookbackHours must be positive, got 0/);
  });

  it('does not modify its input', () => {
    const list = [article('b', 2), article('a', 1)];
    const snapshot = JSON.stringify(list);
    const cut = new Date(cutoff);
    const result = pick(list, { cutoff: cut });
    expect(JSON.stringify(list)).toBe(snapshot);
    expect(cut.getTime()).toBe(cutoff.getTime());
    result.cutoff.setTime(0);
    expect(cut.getTime()).toBe(cutoff.getTime());
  });
});
