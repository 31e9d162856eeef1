import type { Article } from '../../src/articles/article';
import type { SkippedItem } from '../../src/articles/feed-parser';
import { explainPick, inFeedOrder, pickArticles, type ExplainInput } from '../../src/articles/pick';

/** explainPick: why each item of a feed is in or out of an edition, always agreeing with pickArticles. */

const HOUR = 3_600_000;
const cutoff = new Date('2026-11-24T06:00:00.000Z');

function article(id: string, hoursBefore: number, extra: Partial<Article> = {}): Article {
  return { id, title: `Story ${id}`, url: `https://daybreak.example/news/${id}`, summaryHtml: '', publishedAt: new Date(cutoff.getTime() - hoursBefore * HOUR), ...extra };
}

const skip = (index: number, reason: SkippedItem['reason'], extra: Partial<SkippedItem> = {}): SkippedItem => ({ index, reason, message: `item ${index + 1} left out`, ...extra });

function input(overrides: Partial<ExplainInput> = {}): ExplainInput {
  return { articles: [], cutoff, alreadySent: new Set(), rules: { maxArticles: 2, lookbackHours: 24 }, ...overrides };
}

describe('explainPick', () => {
  const articles = [
    article('sent', 2),
    article('old', 30),
    article('future', -1),
    article('a', 3),
    article('dup-url', 4, { url: 'https://daybreak.example/news/a#comments' }),
    article('b', 5),
    article('c', 6),
    article('sport', 1, { section: 'Sport' }),
  ];

  it('gives every article one reason, in feed order, and picks exactly what pickArticles picks', () => {
    const base = input({ articles, alreadySent: new Set(['sent']) });
    const { result, items } = explainPick(base);
    expect(result).toEqual(pickArticles(base));
    expect(items.map((i) => [i.article?.id, i.reason, i.picked])).toEqual([
      ['sent', 'already-sent', false],
      ['old', 'too-old', false],
      ['future', 'after-cutoff', false],
      ['a', 'picked', true],
      ['dup-url', 'duplicate', false],
      ['b', 'over-max-articles', false],
      ['c', 'over-max-articles', false],
      ['sport', 'picked', true],
    ]);
    // Positions follow edition order (newest first), not feed order.
    expect(result.articles.map((a) => a.id)).toEqual(items.filter((i) => i.picked).sort((x, y) => (x.position ?? 0) - (y.position ?? 0)).map((i) => i.article?.id));
  });

  it('says why in words an editor can act on', () => {
    const { items } = explainPick(input({ articles, alreadySent: new Set(['sent']), rules: { maxArticles: 12, lookbackHours: 24 } }));
    const detail = (id: string) => items.find((i) => i.article?.id === id)?.detail;
    expect(detail('sent')).toBe('already sent in an earlier edition of this newsletter');
    expect(detail('old')).toBe("too old: published 2026-11-23T00:00:00Z, not after 2026-11-23T06:00:00Z (the previous edition's cut-off, or the look-back window)");
    expect(detail('future')).toBe('after the cut-off: published 2026-11-24T07:00:00Z, after 2026-11-24T06:00:00Z; it waits for the next edition');
    expect(detail('dup-url')).toBe('duplicate: same link as "Story a", which is kept');
    expect(detail('sport')).toBe('picked: number 1 in the edition');
  });

  it('leaves out articles of another section first, as loadArticles does for a section newsletter', () => {
    const base = input({ articles, section: 'sport', rules: { maxArticles: 12, lookbackHours: 24 } });
    const { result, items } = explainPick(base);
    expect(result.articles.map((a) => a.id)).toEqual(['sport']);
    expect(result).toEqual(pickArticles({ ...base, articles: [articles[7]] }));
    expect(items.find((i) => i.article?.id === 'a')).toMatchObject({ reason: 'wrong-section', detail: 'wrong section: no section, not this newsletter\'s "sport"' });
  });

  it('reports a same-id duplicate and an over-maxArticles rank', () => {
    const { items } = explainPick(input({ articles: [article('x', 1), article('x', 2, { url: 'https://daybreak.example/other' }), article('y', 3), article('z', 4)] }));
    expect(items.map((i) => i.detail)).toEqual([
      'picked: number 1 in the edition',
      'duplicate: same id as "Story x", which is kept',
      'picked: number 2 in the edition',
      'over maxArticles: ranked 3, the edition takes 2',
    ]);
  });

  it('puts the items the parser left out back at their place in the feed, with the unreadable date', () => {
    const skipped = [skip(0, 'no-title'), skip(2, 'unreadable-date', { date: 'someday' }), skip(5, 'no-date')];
    const { items } = explainPick(input({ articles: [article('p', 1), article('q', 2), article('r', 3)], skipped, rules: { maxArticles: 12, lookbackHours: 24 } }));
    expect(items.map((i) => [i.feedIndex, i.article?.id ?? i.reason])).toEqual([
      [0, 'no-title'],
      [1, 'p'],
      [2, 'unreadable-date'],
      [3, 'q'],
      [4, 'r'],
      [5, 'no-date'],
    ]);
    expect(items[2].detail).toBe('unreadable date "someday": left out of every edition until the feed fixes it');
  });

  it('inFeedOrder handles skipped items before, between and after the articles', () => {
    const order = inFeedOrder([article('p', 1)], [skip(1, 'no-date'), skip(2, 'no-link')]);
    expect(order.map((e) => e.feedIndex)).toEqual([0, 1, 2]);
    expect(inFeedOrder([], [skip(0, 'no-date')]).map((e) => e.feedIndex)).toEqual([0]);
  });
});
