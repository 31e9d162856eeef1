/** What an edition did: delivery, bounces, complaints, unsubscribes it caused, and clicks per story, ranked. */
import type { LoadedConfig } from '../config/load';
import type { Edition, EditionState } from '../delivery/edition';
import type { EditionStore } from '../delivery/edition-store';
import { storyKey } from '../mail/edition-links';
import type { ClickStore } from './click-store';
import { getEditionOrThrow } from './status';

export interface ReportDeps {
  editions: Pick<EditionStore, 'get' | 'list'>;
  clicks: Pick<ClickStore, 'counts' | 'readerCount'>;
  config: Pick<LoadedConfig, 'newsletters'>;
}

export interface StoryReport {
  /** 1 = most read by people. */
  rank: number;
  /** Where it sat in the email (1 = the lead). */
  position: number;
  id: string;
  key: string;
  title: string;
  url: string;
  section?: string;
  human: number;
  automated: number;
}

export interface EditionReport {
  id: string;
  newsletterId: string;
  newsletterName: string;
  localDate: string;
  state: EditionState;
  subject?: string;
  scheduledFor: string;
  startedAt?: string;
  finishedAt?: string;
  delivery: {
    /** Everyone the edition was for. */
    total: number;
    sent: number;
    failed: number;
    skipped: number;
    bounced: { total: number; hard: number; soft: number };
    complaints: number;
    /** Unsubscribes made through a link in this edition. */
    unsubscribes: number;
  };
  clicks: {
    /** false: the newsletter links straight to its stories, so nothing is counted. */
    counted: boolean;
    human: number;
    automated: number;
    /** Readers with a per-reader record (only in a newsletter that opted in); undefined otherwise. */
    readersWithRecords?: number;
    stories: StoryReport[];
  };
}

/** Most human clicks first; ties by automated clicks, then by place in the email. */
export function rankStories(stories: Array<Omit<StoryReport, 'rank'>>): StoryReport[] {
  return [...stories]
    .sort((a, b) => b.human - a.human || b.automated - a.automated || a.position - b.position)
    .map((s, i) => ({ ...s, rank: i + 1 }));
}

/** An edition's report, from its own counts and its click counts (aggregate: no reader in it). */
export async function editionReport(deps: ReportDeps, id: string): Promise<EditionReport> {
  const e: Edition = await getEditionOrThrow(deps, id);
  const newsletter = deps.config.newsletters.find((n) => n.id === e.newsletterId);
  const counts = await deps.clicks.counts(id);
  const stories = rankStories(e.articles.map((a, i) => {
    const key = storyKey(a.id);
    const c = counts.get(key) ?? { human: 0, automated: 0 };
    return { position: i + 1, id: a.id, key, title: a.title, url: a.url, section: a.section, human: c.human, automated: c.automated };
  }));
  const perReader = newsletter?.clicks.perReader && newsletter.clicks.redirect;
  return {
    id: e.id,
    newsletterId: e.newsletterId,
    newsletterName: newsletter?.name ?? e.newsletterId,
    localDate: e.localDate,
    state: e.state,
    subject: e.subject,
    scheduledFor: e.scheduledFor.toISOString(),
    startedAt: e.startedAt?.toISOString(),
    finishedAt: e.finishedAt?.toISOString(),
    delivery: {
      total: e.total,
      sent: e.sent,
      failed: e.failed,
      skipped: e.skipped,
      bounced: { total: e.bounced, hard: e.bouncedHard, soft: Math.max(0, e.bounced - e.bouncedHard) },
      complaints: e.complaints,
      unsubscribes: e.unsubscribes,
    },
    clicks: {
      counted: newsletter?.clicks.redirect ?? true,
      human: stories.reduce((s, x) => s + x.human, 0),
      automated: stories.reduce((s, x) => s + x.automated, 0),
      ...(perReader ? { readersWithRecords: await deps.clicks.readerCount(id) } : {}),
      stories,
    },
  };
}
