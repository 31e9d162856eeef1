import fs from 'node:fs';
import path from 'node:path';
import { attributeToReader, parseBounce, type RecipientResult } from '../../src/bounces/parse-bounce';

/**
 * The patterns real bounces take that the Sisimai corpus does not cover well (issue 10), one small
 * fixture each in test/fixtures/bounces/, with what each must parse to in expected.json.
 */
const dir = path.resolve(__dirname, '..', 'fixtures', 'bounces');
const read = (file: string) => fs.readFileSync(path.join(dir, file));

interface Expected {
  pattern: string;
  bounce: boolean;
  kind: string;
  recipients: Array<Partial<RecipientResult>>;
}

const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Expected>;

describe('real-world bounce patterns (test/fixtures/bounces)', () => {
  test('every fixture has an expectation and every expectation a fixture', () => {
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()).toEqual(Object.keys(expected).sort());
  });

  test.each(Object.entries(expected))('%s', async (file, want) => {
    const { parts: _parts, ...report } = await parseBounce(read(file));
    expect({ bounce: report.isBounce, kind: report.kind }).toEqual({ bounce: want.bounce, kind: want.kind });
    expect(report.recipients).toHaveLength(want.recipients.length);
    want.recipients.forEach((r, i) => expect(report.recipients[i]).toMatchObject(r));
  });

  test('no recipient is ever our own sender, the bounce\'s To or a greeting', async () => {
    for (const file of Object.keys(expected)) {
      const { recipients } = await parseBounce(read(file));
      for (const r of recipients) expect({ file, recipient: r.recipient }).not.toMatchObject({ recipient: expect.stringMatching(/daybreak\.example$/) });
    }
  });
});

describe('a bounce that came to a VERP address is about the reader we sent that copy to', () => {
  test('the VERP reader wins over the forwarding address the report names, and the named one is kept', async () => {
    const r = await parseBounce(read('forwarded-internal-address.eml'), { sentTo: ['userx@example.ch'] });
    expect(r.recipients).toEqual([expect.objectContaining({ recipient: 'userx@example.ch', reportedAs: 'haasm@yogi.urz.example.ch', attribution: 'verp', kind: 'hard', reason: 'userunknown' })]);
  });

  test('a VERP bounce naming the reader itself is attributed to VERP, with the report\'s reason', async () => {
    const r = await parseBounce(read('user-unknown-bad-recipient.eml'), { sentTo: ['t.nguyen@example.com'] });
    expect(r.recipients).toEqual([expect.objectContaining({ recipient: 't.nguyen@example.com', attribution: 'verp', kind: 'hard' })]);
    expect(r.recipients[0]?.reportedAs).toBeUndefined();
  });

  test('a bounce naming no one at all (No Message Collected) is the VERP reader\'s, and soft', async () => {
    const r = await parseBounce(read('no-message-collected.eml'), { sentTo: ['reader@example.org'] });
    expect(r).toMatchObject({ isBounce: true, kind: 'soft' });
    expect(r.recipients).toEqual([expect.objectContaining({ recipient: 'reader@example.org', attribution: 'verp', kind: 'soft' })]);
  });

  test('a VERP address found only inside the report re-attributes a parsed report the same way', async () => {
    const { parts: _parts, ...report } = await parseBounce(read('local-parts-only.eml'));
    const tied = attributeToReader(report, ['Reader@Example.com']);
    expect(tied.recipients).toEqual([expect.objectContaining({ recipient: 'reader@example.com', attribution: 'verp', reportedAs: 'mykewlacct@example.com' })]);
    expect(attributeToReader(report, [])).toBe(report);
  });

  test('auto-replies and unrecognised mail stay what they are, VERP or not', async () => {
    for (const file of ['auto-reply-thank-you.eml', 'reply-with-null-sender.eml']) {
      const r = await parseBounce(read(file), { sentTo: ['h.keller@example.de'] });
      expect({ file, isBounce: r.isBounce, recipients: r.recipients }).toEqual({ file, isBounce: false, recipients: [] });
    }
  });
});
