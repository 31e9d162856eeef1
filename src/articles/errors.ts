/** The articles domain's error: any failure to obtain a source's articles, naming the source. */
import { DaybreakError } from '../core/errors';

/**
 * Any failure to obtain a source's articles. One type, so the edition builder can refuse to
 * send a half-built edition with a single `instanceof` check, and ops see which source broke.
 */
export class FeedError extends DaybreakError {
  override readonly name = 'FeedError';
  /** The source as a person would name it, e.g. `url https://example.com/feed.xml`. */
  readonly source: string;

  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('feed-unreadable', `feed ${source}: ${message}`, { context: { source }, cause: options?.cause });
    this.source = source;
  }
}

/** The message of whatever was thrown, for wrapping it in a FeedError. */
export function causeMessage(error: unknown): string {
  // Duck-typed, not instanceof: errors from another realm (undici under jest's VM) fail instanceof Error.
  const message = (error as { message?: unknown } | null)?.message;
  return (typeof message === 'string' ? message : String(error)).replace(/\s+/g, ' ').trim();
}
