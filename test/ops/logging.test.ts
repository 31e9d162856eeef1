import { Writable } from 'node:stream';
import { FixedClock } from '../../src/core/clock';
import { DaybreakError } from '../../src/core/errors';
import { createLogger } from '../../src/core/logger';
import { maskEmail, maskEmailsInText } from '../../src/core/mask';
import { createRedis } from '../../src/core/redis';
import { runEditionNow } from '../../src/ops/run-now';
import { Runtime } from '../../src/app/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { morning } from './fixture';

/** A pino destination that keeps each JSON line. */
function capture(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}

describe('structured logs', () => {
  test('addresses are masked on info and above, in fields, nested objects, errors and messages; debug keeps them', () => {
    const { stream, lines } = capture();
    const logger = createLogger({ level: 'debug', destination: stream });
    const child = logger.child({ editionId: 'national-2026-11-24' });
    child.info({ email: 'jane.doe@example.com', to: ['a.b@example.org'], failure: { diagnostic: '550 5.1.1 <jane.doe@example.com>: user unknown' } }, 'sent to jane.doe@example.com');
    child.warn({ err: Object.assign(new Error('RCPT refused for <bob@example.net>'), { responseCode: 550 }) }, 'send failed');
    child.debug({ email: 'jane.doe@example.com' }, 'claim');
    const [info, warn, debug] = lines;
    expect(info).toMatchObject({ level: 30, editionId: 'national-2026-11-24', email: 'j***@example.com', to: ['a***@example.org'], msg: 'sent to j***@example.com' });
    expect((info?.failure as { diagnostic: string }).diagnostic).toBe('550 5.1.1 <j***@example.com>: user unknown');
    expect(JSON.stringify(warn)).not.toContain('bob@example.net');
    expect(warn).toMatchObject({ level: 40, editionId: 'national-2026-11-24', err: { message: 'RCPT refused for <b***@example.net>', responseCode: 550 } });
    expect(debug).toMatchObject({ level: 20, email: 'jane.doe@example.com' });
  });

  test('an expected error is logged as its code and message, with no stack; an unexpected one keeps its stack', () => {
    const { stream, lines } = capture();
    const logger = createLogger({ level: 'info', destination: stream });
    logger.error({ err: new DaybreakError('feed-unreadable', 'feed file /srv/feed.xml: cannot read /srv/feed.xml (ENOENT)') }, 'edition build failed');
    logger.error({ err: new DaybreakError('internal', 'a bug') }, 'unexpected');
    logger.error({ err: new TypeError('x is undefined') }, 'unexpected');
    const [expected, internal, bug] = lines as Array<{ err: Record<string, unknown> }>;
    expect(expected?.err).toEqual({ type: 'DaybreakError', message: 'feed file /srv/feed.xml: cannot read /srv/feed.xml (ENOENT)', code: 'feed-unreadable' });
    expect(internal?.err.stack).toEqual(expect.stringContaining('at '));
    expect(bug?.err.stack).toEqual(expect.stringContaining('TypeError: x is undefined'));
  });

  test('mask helpers', () => {
    expect(maskEmail('jane@example.com')).toBe('j***@example.com');
    expect(maskEmail('not-an-address')).toBe('***');
    expect(maskEmailsInText('no address here')).toBe('no address here');
    expect(maskEmailsInText('to x+tag@sub.example.co.uk and y@example.com')).toBe('to x***@sub.example.co.uk and y***@example.com');
  });

  describe('a real edition', () => {
    let sink: SmtpSink;
    let runtime: Runtime;
    const { stream, lines } = capture();

    beforeAll(async () => {
      sink = await startSmtpSink({ refuse: (a, attempt) => (a === 'reader-2@example.com' && attempt === 1 ? { code: 451, message: '4.3.0 <reader-2@example.com> try later' } : undefined) });
      const config = testConfig(uniquePrefix('logging'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])), delivery: { concurrency: 4, smtpMaxConnections: 2, attempts: 3, backoffMs: 20, fanoutPageSize: 10, lockDurationMs: 5000, stalledIntervalMs: 5000 } });
      runtime = new Runtime(config, { logger: createLogger({ level: 'debug', destination: stream }), redis: createRedis(config.redisUrl), clock: new FixedClock(morning) });
      for (let i = 1; i <= 5; i++) await runtime.subscribers.add({ email: `reader-${i}@example.com`, newsletters: ['national'], confirmed: true });
    });
    afterAll(async () => {
      await closeRuntime(runtime);
      await sink.close();
    });

    test('every line of the edition work carries its id, and info lines never a full address', async () => {
      const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
      expect(result.edition.sent).toBe(5);
      const editionLines = lines.filter((l) => l.msg !== 'workers started');
      expect(editionLines.map((l) => l.msg)).toEqual(expect.arrayContaining(['edition rendered', 'fan-out complete', 'send failed; will retry', 'send attempt failed']));
      for (const line of editionLines) expect(line).toMatchObject({ editionId: 'national-2026-11-24' });
      for (const line of lines.filter((l) => (l.level as number) >= 30)) expect(JSON.stringify(line)).not.toMatch(/reader-\d@example\.com/);
    });
  });
});
