import type { Article } from '../../src/articles/article';
import type { EditionContent, EditionHeaders, MessageValues } from '../../src/render/contract';

/**
 * A realistic 12-story morning edition (UK regional business news), for render, MIME and
 * delivery tests and benchmarks. Summaries are already-sanitised HTML, as the feed stage leaves them.
 */

const base = Date.UTC(2026, 10, 23, 18, 0, 0);
const at = (hoursBefore: number): Date => new Date(base - hoursBefore * 3_600_000);

export const FIXTURE_ARTICLES: readonly Article[] = [
  {
    id: 'https://daybreak.example/news/fusion21-scoops-first-cabinet-office-social-value-award',
    title: 'Fusion21 scoops first Cabinet Office Social Value Award',
    url: 'https://daybreak.example/news/fusion21-scoops-first-cabinet-office-social-value-award?utm_source=national&utm_medium=email',
    summaryHtml:
      '<p>National social enterprise and procurement consortium Fusion21 has won the \u2018Driving Value for Money\u2019 category in the first Cabinet Office Social Value Awards, having delivered c\u00a3125m of savings and created more than 2,300 jobs.</p>',
    author: 'Faye Saville',
    section: "Members' News",
    publishedAt: at(1),
    imageUrl: 'https://cdn.daybreak.example/images/2026/11/fusion21-award-1200x630.jpg',
    featured: true,
  },
  {
    id: 'dbk-240001',
    title: 'How to make your growth strategy deliver in 2026',
    url: 'https://daybreak.example/news/how-to-make-your-growth-strategy-deliver-in-2026',
    summaryHtml: '<p>Three finance directors on turning a plan on paper into <strong>cash in the bank</strong>: fewer priorities, monthly reviews and a clear owner for every target.</p>',
    author: 'Ruth Oyelaran',
    section: 'Finance',
    publishedAt: at(2),
  },
  {
    id: 'dbk-240002',
    title: 'Powering a new wave of regional screen indies',
    url: 'https://daybreak.example/news/powering-a-new-wave-of-regional-screen-indies',
    summaryHtml: '<p>A \u00a34.5m fund backed by the North East Combined Authority will support 40 independent production companies in Gateshead, Sunderland and Middlesbrough.</p>',
    author: 'Tom Keegan',
    section: 'North East',
    publishedAt: at(3),
  },
  {
    id: 'dbk-240003',
    title: 'A new year and a new outlook for the property scene',
    url: 'https://daybreak.example/news/a-new-year-and-a-new-outlook-for-property',
    summaryHtml: '<p>Agents in Leeds and Sheffield report office take-up 18% ahead of last year as occupiers trade down in size but up in quality.</p>',
    author: 'Priya Natarajan',
    section: 'Property',
    publishedAt: at(4),
  },
  {
    id: 'dbk-240004',
    title: 'Zero per cent \u2013 but maximum brand exposure',
    url: 'https://daybreak.example/news/zero-per-cent-but-maximum-brand-exposure',
    summaryHtml: '<p>Why a Teesside car dealer gave away its sponsorship margin, and what it got back in leads.</p>',
    author: 'Daniel Hughes',
    section: 'North East',
    publishedAt: at(5),
  },
  {
    id: 'dbk-240005',
    title: 'We don\u2019t talk about money stress enough',
    url: 'https://daybreak.example/news/we-dont-talk-about-money-stress-enough',
    summaryHtml: '<p>One in four employees say financial worries affect their work. An HR director in Manchester explains the support her firm now offers, from salary advances to free advice.</p>',
    section: 'North West',
    publishedAt: at(6),
  },
  {
    id: 'dbk-240006',
    title: 'A year of resilience, growth and collaboration',
    url: 'https://daybreak.example/news/a-year-of-resilience-growth-and-collaboration',
    summaryHtml: '<p>The chamber of commerce\u2019s annual review: exports up 6%, 1,100 new members and a push on <a href="https://daybreak.example/tag/skills">skills</a>.</p>',
    author: 'Faye Saville',
    section: "Members' News",
    publishedAt: at(7),
  },
  {
    id: 'dbk-240007',
    title: 'Apprenticeships: lower standards risk safety',
    url: 'https://daybreak.example/news/apprenticeships-lower-standards-risk-safety',
    summaryHtml: '<p>Construction employers warn that shortening electrical apprenticeships to fill vacancies faster would store up problems on site.</p>',
    author: 'Callum Reid',
    section: 'Yorkshire',
    publishedAt: at(8),
  },
  {
    id: 'dbk-240008',
    title: 'Keeping it reel: creating video in an authenticity era',
    url: 'https://daybreak.example/news/keeping-it-reel-creating-video-in-an-authenticity-era',
    summaryHtml: '<p>Shaky phone footage is outperforming polished adverts for B2B brands. A Newcastle agency shares its numbers.</p>',
    author: 'Amira Khalil',
    section: 'Technology',
    publishedAt: at(9),
  },
  {
    id: 'dbk-240009',
    title: 'Budget: creating a more vibrant market economy',
    url: 'https://daybreak.example/news/budget-creating-a-more-vibrant-market-economy',
    summaryHtml: '<p>What the Chancellor\u2019s changes to business rates and R&amp;D credits mean for firms with fewer than 250 staff.</p>',
    author: 'Ruth Oyelaran',
    section: 'Finance',
    publishedAt: at(10),
  },
  {
    id: 'dbk-240010',
    title: 'Celebrating excellence and community support',
    url: 'https://daybreak.example/news/celebrating-excellence-and-community-support',
    summaryHtml: '<p>Winners of the Yorkshire business awards include a Hull logistics firm and a Harrogate caf\u00e9 that trains care leavers.</p>',
    section: 'Yorkshire',
    publishedAt: at(11),
  },
  {
    id: 'dbk-240011',
    title: 'The value of nurturing homegrown innovation',
    url: 'https://daybreak.example/news/the-value-of-nurturing-homegrown-innovation',
    summaryHtml: '<p>University spin-outs in the North raised \u00a3310m last year. Founders say patient local investors made the difference.</p>',
    author: 'Amira Khalil',
    section: 'Technology',
    publishedAt: at(12),
  },
];

export function fixtureArticles(): Article[] {
  return FIXTURE_ARTICLES.map((a) => ({ ...a, publishedAt: new Date(a.publishedAt) }));
}

/** A 12-story EditionContent; `overrides` replace top-level fields (articles included). */
export function buildEditionContent(overrides: Partial<EditionContent> = {}): EditionContent {
  return {
    editionId: 'national-2026-11-24',
    newsletter: { id: 'national', name: 'National', description: 'The morning\u2019s business news from across the UK.' },
    organisation: {
      name: 'Daybreak Business News',
      postalAddress: 'Daybreak Media Ltd, 1 Quayside, Newcastle upon Tyne NE1 3DX, United Kingdom',
      website: 'https://daybreak.example',
    },
    dateLabel: 'Tuesday 24 November 2026',
    localDate: '2026-11-24',
    articles: fixtureArticles(),
    subjectTemplate: '{{name}}: {{lead}}',
    links: {
      viewInBrowser: 'https://daybreak.example/newsletters/national/2026-11-24',
      signup: 'https://daybreak.example/signup?list=national',
      archive: 'https://daybreak.example/newsletters/national',
    },
    ...overrides,
  };
}

export function buildEditionHeaders(overrides: Partial<EditionHeaders> = {}): EditionHeaders {
  return {
    from: 'Daybreak National <national@daybreak.example>',
    replyTo: 'newsdesk@daybreak.example',
    subject: 'National: Fusion21 scoops first Cabinet Office Social Value Award',
    listId: 'National <national.daybreak.example>',
    messageIdDomain: 'daybreak.example',
    ...overrides,
  };
}

export function buildMessageValues(overrides: Partial<MessageValues> = {}): MessageValues {
  const email = overrides.to?.email ?? 'jose.nunez+news@example.co.uk';
  return {
    to: { email, name: 'Jos\u00e9 \u00d1\u00fa\u00f1ez' },
    greeting: 'Good morning, Jos\u00e9.',
    email,
    unsubscribeUrl: 'https://daybreak.example/u/national?s=8412&t=Zk9x_3bQ-a1&e=jose.nunez%2Bnews%40example.co.uk',
    preferencesUrl: 'https://daybreak.example/preferences?s=8412&t=Zk9x_3bQ-a1',
    messageId: 'national-2026-11-24.8412',
    date: new Date('2026-11-24T06:00:00.000Z'),
    ...overrides,
  };
}
