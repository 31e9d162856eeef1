import fs from 'node:fs';
import path from 'node:path';
import { BounceParseError, defaultParseLimits, parseBounce } from '../../src/bounces/parse-bounce';
import { BounceParserThread } from '../../src/bounces/parse-worker';
import { findAddresses } from '../../src/bounces/address-scan';

/**
 * Bounce parsing is linear and bounded (issue 9): the address scan once took 20 s on a 75 KB run of
 * letters and grew with the square of the size. Each parse below is of a message just under the
 * 5 MB the bounce server accepts. A linear parse takes a few tens of milliseconds here, a quadratic
 * one hours; the bound is relative to plain prose of the same size parsed in the same run (best of
 * three each), so a loaded machine slows both alike and the test does not hang on the clock.
 */
const fixtures = path.resolve(__dirname, '..', 'fixtures', 'bounces');
const justUnder5MB = defaultParseLimits.maxMessageBytes - 4096;

/** A bounce with one real failure at the top, then `filler` repeated to ~5 MB. */
function adversarial(filler: string, bytes = justUnder5MB): Buffer {
  const head = [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'To: news@daybreak.example',
    'Subject: Undelivered Mail Returned to Sender',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    '<victim@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 user unknown',
    '',
    '',
  ].join('\r\n');
  const body = filler.repeat(Math.ceil((bytes - head.length) / filler.length)).slice(0, bytes - head.length);
  return Buffer.from(head + body, 'latin1');
}

async function refusal(promise: Promise<unknown>): Promise<BounceParseError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BounceParseError) return error;
    throw error;
  }
  throw new Error('expected a BounceParseError, got a result');
}

/** The fastest of `runs` parses of `raw`, in ms (the least disturbed by other work on the machine). */
async function bestParseMs(raw: Buffer, runs = 3): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await parseBounce(raw);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

describe('bounce parsing is linear in the size of the message', () => {
  let proseMs: number;
  beforeAll(async () => {
    proseMs = await bestParseMs(adversarial('Lorem ipsum dolor sit amet, consectetur adipiscing elit. '));
  });

  test.each([
    ['a run of letters', 'a'],
    ['a run of dots', '.'],
    ['a run of @', '@'],
    ['a run of <', '<'],
    ['letters and @ in turn', 'a@'],
    ['dotted labels', 'a.b.c.d.e.f@'],
  ])('a 5 MB body of %s parses about as fast as 5 MB of prose, and the real failure is still read', async (_name, filler) => {
    const raw = adversarial(filler);
    expect(raw.length).toBeGreaterThan(5_000_000);
    const report = await parseBounce(raw);
    expect(report.recipients.map((r) => [r.recipient, r.kind])).toEqual([['victim@example.net', 'hard']]);
    // Linear: within a small factor of prose (measured 0.5-3x). Quadratic would be thousands of times.
    expect(await bestParseMs(raw)).toBeLessThan(10 * proseMs + 250);
  });

  test('the address scanner reads a run of letters, @ and dots in one pass, and skips what is no address', () => {
    const letters = 'a'.repeat(2_000_000);
    expect(findAddresses(`${letters}@example.com`)).toEqual([]);
    expect(findAddresses(`x@${letters}.com`)).toEqual([]);
    expect(findAddresses('@'.repeat(1_000_000))).toEqual([]);
    expect(findAddresses("'userx@example.uk' smtp=usery@example.com <z@a.example.org>.").map((a) => a.address)).toEqual(['userx@example.uk', 'usery@example.com', 'z@a.example.org']);
    expect(findAddresses('"john..doe"@example.com').map((a) => a.address)).toEqual(['"john..doe"@example.com']);
  });
});

describe('limits: what the parser refuses, with a typed error that says what to do', () => {
  test('a message over the size limit is refused before it is read', async () => {
    const error = await refusal(parseBounce(Buffer.alloc(defaultParseLimits.maxMessageBytes + 1, 'a')));
    expect(error.code).toBe('too-large');
    expect(error.message).toMatch(/bounces\.server\.maxMessageBytes/);
    expect((await refusal(parseBounce(adversarial('a', 20_000), { maxMessageBytes: 10_000 }))).code).toBe('too-large');
  });

  test('MIME structures no bounce has (hundreds of nested parts, a megabyte of headers) are refused', async () => {
    const nested = ['From: MAILER-DAEMON@mx.example.net', 'Content-Type: multipart/mixed; boundary="b0"', ''];
    for (let i = 0; i < 300; i++) nested.push(`--b${i}`, `Content-Type: multipart/mixed; boundary="b${i + 1}"`, '');
    expect((await refusal(parseBounce(nested.join('\r\n')))).code).toBe('mime-structure');
    const header = `From: MAILER-DAEMON@mx.example.net\r\nX-Filler: ${'a'.repeat(300_000)}\r\n\r\nbody\r\n`;
    expect((await refusal(parseBounce(header))).code).toBe('mime-structure');
  });

  test('a parse past its time budget is refused (checked between stages in this thread)', async () => {
    expect((await refusal(parseBounce(adversarial('a'), { timeBudgetMs: 0 }))).code).toBe('time-budget');
  });
});

describe('the parser thread the bounce server uses', () => {
  test('gives the same report as parsing in this thread, queues messages, and refuses once closed', async () => {
    const thread = new BounceParserThread(defaultParseLimits, 30_000);
    try {
      const raw = fs.readFileSync(path.join(fixtures, 'forwarded-internal-address.eml'));
      const [a, b] = await Promise.all([thread.parse(raw, { sentTo: ['userx@example.ch'] }), thread.parse(adversarial('@', 100_000))]);
      const { parts: _parts, ...here } = await parseBounce(raw, { sentTo: ['userx@example.ch'] });
      const { parts: _threadParts, ...there } = a;
      expect(there).toEqual(here);
      expect(b.recipients.map((r) => r.recipient)).toEqual(['victim@example.net']);
      expect((await refusal(thread.parse(Buffer.alloc(defaultParseLimits.maxMessageBytes + 1)))).code).toBe('too-large');
    } finally {
      await thread.close();
    }
    expect((await refusal(thread.parse(Buffer.from('From: a@b.example\r\n\r\nx')))).code).toBe('parser-failure');
  });

  test('stops a parse that runs past its budget, and refuses that message with time-budget', async () => {
    const thread = new BounceParserThread({ ...defaultParseLimits, timeBudgetMs: 1 }, 0);
    try {
      expect((await refusal(thread.parse(adversarial('a')))).code).toBe('time-budget');
    } finally {
      await thread.close();
    }
  });
});
