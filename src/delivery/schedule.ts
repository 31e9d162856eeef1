/** Time arithmetic for editions (pure): local dates, each date's slot, the cut-off, staleness. */
import { DateTime } from 'luxon';
import cron from 'node-cron';

/** Pure time arithmetic for editions: which local date "now" is, and when that date's slot is. */

export function localDateOf(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: timeZone }).toISODate() as string;
}

export function isLocalDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && DateTime.fromISO(value).isValid;
}

/** "Tuesday 24 November 2026" */
export function dateLabel(localDate: string, timeZone: string): string {
  return DateTime.fromISO(localDate, { zone: timeZone }).setLocale('en-GB').toFormat('cccc d LLLL yyyy');
}

/**
 * The first minute of `localDate` (in the newsletter's zone) that the cron expression matches,
 * or undefined when the schedule has no slot that day (a Saturday for "0 6 * * 1-5").
 * node-cron's own matcher decides, so this agrees with the live scheduler, DST included.
 */
export function scheduledSlot(cronExpression: string, timeZone: string, localDate: string): Date | undefined {
  // Pure, and a day's minutes are many: answers are kept (the scheduler's tick and every welcome email ask again).
  const key = `${cronExpression}|${timeZone}|${localDate}`;
  if (slotCache.has(key)) {
    const cached = slotCache.get(key);
    return cached === undefined ? undefined : new Date(cached);
  }
  const slot = findSlot(cronExpression, timeZone, localDate);
  if (slotCache.size >= 512) slotCache.delete(slotCache.keys().next().value as string);
  slotCache.set(key, slot?.getTime());
  return slot;
}

const slotCache = new Map<string, number | undefined>();

function findSlot(cronExpression: string, timeZone: string, localDate: string): Date | undefined {
  const task = cron.createTask(cronExpression, () => undefined, { timezone: timeZone });
  try {
    let t = DateTime.fromISO(localDate, { zone: timeZone }).startOf('day');
    const end = t.plus({ days: 1 });
    while (t < end) {
      const candidate = t.toJSDate();
      if (task.match(candidate)) return candidate;
      t = t.plus({ minutes: 1 });
    }
    return undefined;
  } finally {
    void task.destroy();
  }
}

/**
 * When `localDate`'s edition belongs: the cron's slot that day, or, on a day the cron does not run
 * (a Saturday for "0 6 * * 1-5", when ops send one anyway), the time of day the cron uses on the
 * nearest day it does run, on that date. So a past day's edition always cuts off at its morning.
 */
export function editionSlot(cronExpression: string, timeZone: string, localDate: string): Date {
  const own = scheduledSlot(cronExpression, timeZone, localDate);
  if (own) return own;
  const day = DateTime.fromISO(localDate, { zone: timeZone });
  for (let offset = 1; offset <= 7; offset++) {
    for (const sign of [-1, 1]) {
      const other = day.plus({ days: sign * offset });
      const slot = scheduledSlot(cronExpression, timeZone, other.toISODate() as string);
      if (slot) {
        const local = DateTime.fromJSDate(slot, { zone: timeZone });
        return day.set({ hour: local.hour, minute: local.minute, second: 0, millisecond: 0 }).toJSDate();
      }
    }
  }
  // A cron that matches no day in two weeks (e.g. once a year): the start of the day.
  return day.startOf('day').toJSDate();
}

/** "Tuesday 24 November at 06:00 GMT": when a slot is, as a reader or an editor in that zone reads it. */
export function slotLabel(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: timeZone }).setLocale('en-GB').toFormat("cccc d LLLL 'at' HH:mm ZZZZ");
}

/**
 * The first slot of the schedule strictly after `after` (in the newsletter's zone, DST included),
 * looking up to two weeks ahead; undefined for a cron with no slot in that time.
 */
export function nextSlot(cronExpression: string, timeZone: string, after: Date): Date | undefined {
  let day = DateTime.fromJSDate(after, { zone: timeZone }).startOf('day');
  for (let i = 0; i < 15; i++) {
    const slot = scheduledSlot(cronExpression, timeZone, day.toISODate() as string);
    if (slot && slot > after) return slot;
    day = day.plus({ days: 1 });
  }
  return undefined;
}

/** Too late to start a morning edition: past its scheduled time by more than the send window. */
export function isStale(scheduledFor: Date, now: Date, sendWindowHours: number): boolean {
  return now.getTime() > scheduledFor.getTime() + sendWindowHours * 3_600_000;
}

/**
 * The articles cut-off for an edition: now, for today's edition (or a future one built early);
 * the scheduled slot for a past date, so re-running an old day picks what that morning would have.
 */
export function editionCutoff(scheduledFor: Date, localDate: string, timeZone: string, now: Date): Date {
  const today = localDateOf(now, timeZone);
  if (localDate < today) return scheduledFor;
  return now;
}
