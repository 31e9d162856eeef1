import { formatWindowEnd, retryDelayMs, retryWindowMs, sendAttempts, sendWindowCloses } from '../../src/delivery/send-window';

const hour = 3_600_000;
const slot = new Date('2026-11-24T06:00:00Z');
const delivery = { backoffMs: 2000, retryBackoffMaxMs: 120_000 };

describe('the send window and the retries inside it (pure)', () => {
  test('the window is the newsletter’s sendWindowHours unless delivery.retryWindowHours says otherwise', () => {
    expect(retryWindowMs({}, { sendWindowHours: 3 })).toBe(3 * hour);
    expect(retryWindowMs({ retryWindowHours: 1.5 }, { sendWindowHours: 3 })).toBe(1.5 * hour);
  });

  test('it closes that long after the slot; an edition started after that gets the same length from its start', () => {
    expect(sendWindowCloses({ scheduledFor: slot, startedAt: new Date('2026-11-24T06:00:02Z') }, 3 * hour).toISOString()).toBe('2026-11-24T09:00:00.000Z');
    // Started late but inside the window (a catch-up at 08:30): still the slot's window.
    expect(sendWindowCloses({ scheduledFor: slot, startedAt: new Date('2026-11-24T08:30:00Z') }, 3 * hour).toISOString()).toBe('2026-11-24T09:00:00.000Z');
    // Run by ops days later (run-edition --date, a forced held edition): its own window from the start.
    expect(sendWindowCloses({ scheduledFor: slot, startedAt: new Date('2026-11-30T07:00:00Z') }, 3 * hour).toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(sendWindowCloses({ scheduledFor: slot }, 3 * hour).toISOString()).toBe('2026-11-24T09:00:00.000Z');
  });

  test('backoff doubles from backoffMs, is capped at retryBackoffMaxMs, and spreads by ±20%', () => {
    const exact = (attempt: number) => retryDelayMs(delivery, attempt, () => 0.5);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map(exact)).toEqual([2000, 4000, 8000, 16_000, 32_000, 64_000, 120_000, 120_000, 120_000, 120_000]);
    expect(retryDelayMs(delivery, 1, () => 0)).toBe(1600);
    expect(retryDelayMs(delivery, 1, () => 0.999999)).toBe(2400);
  });

  test('a job has tries enough to keep retrying at the cap for the whole window (the window ends them)', () => {
    const attempts = sendAttempts(delivery, 3 * hour);
    let waited = 0;
    // Even with every wait at its shortest.
    for (let attempt = 1; attempt < attempts; attempt++) waited += retryDelayMs(delivery, attempt, () => 0);
    expect(waited).toBeGreaterThanOrEqual(3 * hour);
    expect(attempts).toBeLessThan(200);
    expect(sendAttempts(delivery, 0)).toBeGreaterThanOrEqual(10);
  });

  test('the window’s end reads in the newsletter’s own zone', () => {
    expect(formatWindowEnd(new Date('2026-11-24T09:00:00Z'), 'Europe/London')).toBe('2026-11-24 09:00 GMT');
    expect(formatWindowEnd(new Date('2026-06-24T08:00:00Z'), 'Europe/London')).toBe('2026-06-24 09:00 BST');
  });
});
