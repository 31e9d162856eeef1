/**
 * Waves (pure): a newsletter delivered in readers' own zones sends its one edition of the day in
 * waves, one per zone its readers live in, each at the schedule's local time in that zone.
 */
import { editionSlot, isStale } from './schedule';

/** One wave of an edition, as planned when the edition is created. */
export interface WavePlan {
  /** The IANA zone; the default wave's is the newsletter's own (readers without a zone are in it too). */
  zone: string;
  /** When it goes: the schedule's time of day on the edition's date, in `zone`. */
  due: Date;
  /** The newsletter's own zone: readers with no zone, or a zone that has no wave, are in it. */
  isDefault: boolean;
}

export type WaveState = 'waiting' | 'out' | 'held';

/** A wave as the edition store keeps it: its plan, where it stands, and its own counts. */
export interface Wave extends WavePlan {
  state: WaveState;
  /** Ops released it after it was held (sent late on purpose). */
  forced: boolean;
  /** Why it is held. */
  reason?: string;
  /** The last subscriber id its fan-out queued: a crashed fan-out resumes after it. */
  cursor: number;
  /** Readers its fan-out queued; then its sends' outcomes (a resend later counts in the edition's totals only). */
  queued: number;
  sent: number;
  failed: number;
  skipped: number;
}

/**
 * The waves of `localDate`'s edition: the newsletter's own zone, and each other zone its readers
 * live in, at the schedule's time of day on that date in each zone (DST included: node-cron's
 * matcher decides, as for the newsletter's own slot). Earliest first: the first wave's time is the
 * edition's slot and its articles' cut-off, so a reader in a later zone gets the same edition.
 */
export function planWaves(cron: string, newsletterZone: string, localDate: string, readerZones: Iterable<string>): WavePlan[] {
  const waves: WavePlan[] = [{ zone: newsletterZone, due: editionSlot(cron, newsletterZone, localDate), isDefault: true }];
  for (const zone of new Set(readerZones)) {
    if (zone === newsletterZone) continue;
    waves.push({ zone, due: editionSlot(cron, zone, localDate), isDefault: false });
  }
  return waves.sort((a, b) => a.due.getTime() - b.due.getTime() || a.zone.localeCompare(b.zone));
}

/** Waves whose time has come and that have not gone yet, earliest first. */
export function dueWaves<W extends Pick<Wave, 'due' | 'state'>>(waves: readonly W[], now: Date): W[] {
  return waves.filter((w) => w.state === 'waiting' && w.due.getTime() <= now.getTime()).sort((a, b) => a.due.getTime() - b.due.getTime());
}

/** A wave that could not start within its send window is held (not sent late), unless ops released it. */
export function isWaveStale(wave: Pick<Wave, 'due' | 'forced'>, now: Date, sendWindowHours: number): boolean {
  return !wave.forced && isStale(wave.due, now, sendWindowHours);
}

/** Readers of a wave still to settle (its queued readers not yet sent, failed or skipped). */
export function wavePending(wave: Pick<Wave, 'queued' | 'sent' | 'failed' | 'skipped'>): number {
  return Math.max(0, wave.queued - wave.sent - wave.failed - wave.skipped);
}
