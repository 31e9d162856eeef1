/** One article, whatever feed format it came from. */
export interface Article {
  /** Stable identity: the feed's guid/id, else its link. Used to never send an article twice. */
  id: string;
  title: string;
  url: string;
  /** Sanitised HTML: safe to place in a template with triple-stash. */
  summaryHtml: string;
  author?: string;
  section?: string;
  /** e.g. "North East": lets a regional newsletter take its stories from a national feed (sample data sets it). */
  region?: string;
  publishedAt: Date;
  imageUrl?: string;
  /** Pinned/featured stories lead the edition. */
  featured?: boolean;
}

/** Where a newsletter's articles come from (validated in src/config/schema.ts). */
export type FeedSource = (
  | { kind: 'url'; url: string; section?: string; timeoutMs?: number }
  | { kind: 'file'; path: string; section?: string }
  /** Shipped sample data whose dates are offsets from "now", so the demo always has news. */
  | { kind: 'sample'; path: string; section?: string }
) & {
  /** Refuse a feed larger than this many bytes (the config's feedMaxBytes unless the source sets its own). */
  maxBytes?: number;
};
