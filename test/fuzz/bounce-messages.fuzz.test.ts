import fs from 'node:fs';
import path from 'node:path';
import { BounceParseError, parseBounce, type BounceReport } from '../../src/bounces/parse-bounce';
import { corpus } from '../helpers/corpus';
import { prng } from '../helpers/prng';

/**
 * Fuzzing the bounce parser with mutated real messages (issue 9): truncations, random binary,
 * huge headers, deeply nested multiparts, broken base64/quoted-printable, unknown charsets and
 * giant single lines. Seeded, so every run makes the same messages: a failure names its seed and
 * case and repeats. Each message must end in a clean report or a clean refusal (BounceParseError),
 * never a crash and never a hang.
 */
const seed = 20261124;
const cases = 320;
const perMessageMs = 5000;

// Without the corpus (a clone without ../shared) the fuzzing runs on the project's own fixtures
// only, and says so; under CI=true a missing corpus fails the run.
const { dir: sisimai } = corpus('bounces/sisimai', 'expected.jsonl');
const fixtures = path.resolve(__dirname, '..', 'fixtures', 'bounces');


type Rng = ReturnType<typeof prng>;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)] as T;

function samples(): Array<{ name: string; raw: Buffer }> {
  const list = (dir: string, prefix: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => ({ name: `${prefix}/${f}`, raw: fs.readFileSync(path.join(dir, f)) })) : []);
  return [...list(sisimai, 'sisimai'), ...list(fixtures, 'fixtures')];
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 256);
  return b;
}

const split = (raw: Buffer) => {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return end < 0 ? { head: text, body: '' } : { head: text.slice(0, end), body: text.slice(end) };
};

/** Each takes a message and the PRNG and returns the mutated message; the name goes in failure reports. */
const mutations: Array<[string, (raw: Buffer, rng: Rng) => Buffer]> = [
  ['truncated', (raw, rng) => raw.subarray(0, int(rng, raw.length + 1))],
  ['random binary spliced in', (raw, rng) => {
    const at = int(rng, raw.length + 1);
    return Buffer.concat([raw.subarray(0, at), randomBytes(rng, 1 + int(rng, 4096)), raw.subarray(at)]);
  }],
  ['bytes flipped', (raw, rng) => {
    const out = Buffer.from(raw);
    for (let i = 0, n = 1 + int(rng, 64); i < n && out.length; i++) out[int(rng, out.length)] = int(rng, 256);
    return out;
  }],
  ['only random binary', (_raw, rng) => randomBytes(rng, int(rng, 64 * 1024))],
  ['huge header', (raw, rng) => {
    const { head, body } = split(raw);
    // Below, around and above the 256 KB a part's headers may have.
    const size = pick(rng, [10_000, 200_000, 300_000, 1_100_000]);
    return Buffer.from(`${head}\r\nX-Fuzz: ${'h'.repeat(size)}${body}`, 'latin1');
  }],
  ['many headers', (raw, rng) => {
    const { head, body } = split(raw);
    return Buffer.from(`${head}\r\n${'Received: from x by y; Tue, 24 Nov 2026 06:00:00 +0000\r\n'.repeat(500 + int(rng, 5000))}X-End: 1${body}`, 'latin1');
  }],
  ['deeply nested multipart', (raw, rng) => {
    const depth = pick(rng, [20, 150, 199, 400]);
    const open: string[] = ['From: MAILER-DAEMON@mx.example.net', 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="n0"', ''];
    for (let i = 0; i < depth; i++) open.push(`--n${i}`, `Content-Type: multipart/mixed; boundary="n${i + 1}"`, '');
    open.push(`--n${depth}`, 'Content-Type: message/rfc822', '');
    const close: string[] = [''];
    for (let i = depth; i >= 0; i--) close.push(`--n${i}--`);
    return Buffer.concat([Buffer.from(open.join('\r\n') + '\r\n'), raw, Buffer.from(close.join('\r\n'))]);
  }],
  ['broken base64', (raw, rng) => {
    const { head, body } = split(raw);
    const h = head.replace(/^Content-Transfer-Encoding:.*$/gim, '').replace(/\r?\n$/, '');
    const garbage = Buffer.from(body).toString('base64').replace(/[A-Za-z]/g, (c) => (rng() < 0.05 ? '!' : c));
    return Buffer.from(`${h}\r\nContent-Transfer-Encoding: base64\r\n\r\n${garbage.slice(0, int(rng, garbage.length + 1))}`, 'latin1');
  }],
  ['broken quoted-printable', (raw, rng) => {
    const { head, body } = split(raw);
    const mangled = body.replace(/.{1,40}/g, (s) => (rng() < 0.3 ? `${s}=Z${String.fromCharCode(33 + int(rng, 90))}=\r\n` : s));
    return Buffer.from(`${head}\r\nContent-Transfer-Encoding: quoted-printable${mangled}=`, 'latin1');
  }],
  ['unknown or odd charset', (raw, rng) => {
    const charset = pick(rng, ['x-fuzz-charset', 'utf-16', 'iso-2022-jp', 'utf-7', 'x-unknown', '"', 'utf-8"; x="']);
    const text = raw.toString('latin1').replace(/charset="?[\w-]+"?/gi, `charset=${charset}`);
    return Buffer.from(text.includes(`charset=${charset}`) ? text : `Content-Type: text/plain; charset=${charset}\r\n${text}`, 'latin1');
  }],
  ['giant single line', (raw, rng) => {
    const { head, body } = split(raw);
    const filler = pick(rng, ['a', '.', '@', '<', 'a@', 'x.', ' ', '=', '=?utf-8?B?', '\t']);
    return Buffer.from(`${head}${body.slice(0, 200)}${filler.repeat(Math.floor((200_000 + int(rng, 1_800_000)) / filler.length))}${body.slice(200)}`, 'latin1');
  }],
  ['boundary lost or repeated', (raw, rng) => {
    const text = raw.toString('latin1');
    return Buffer.from(rng() < 0.5 ? text.replace(/boundary="?([^";\r\n]+)"?/i, 'boundary="never-used"') : text.replace(/^--(\S+)$/m, (line) => `${line}\r\n`.repeat(50 + int(rng, 500))), 'latin1');
  }],
  ['line endings mixed, header/body gap removed', (raw, rng) => Buffer.from(raw.toString('latin1').replace(/\r?\n/g, () => pick(rng, ['\n', '\r\n', '\r', '\n\n'])).replace(/\r?\n\r?\n/, '\n'), 'latin1')],
];

function assertCleanReport(report: BounceReport): void {
  expect(['hard', 'soft', 'complaint', 'auto-reply', 'delivered', 'unrecognised']).toContain(report.kind);
  expect(typeof report.isBounce).toBe('boolean');
  expect(typeof report.format).toBe('string');
  for (const r of report.recipients) {
    expect(r.recipient).toMatch(/^[^\s@]+@[^\s@]+$/);
    expect(['hard', 'soft', 'complaint', 'delivered']).toContain(r.kind);
    expect(['verp', 'dsn', 'arf', 'header', 'returned-headers', 'text']).toContain(r.attribution);
    expect(typeof r.diagnostic).toBe('string');
  }
}

describe(`bounce parser fuzzing (seed ${seed}, ${cases} mutated messages)`, () => {
  test('every mutated message ends in a clean report or a clean refusal, and none hangs', async () => {
    const rng = prng(seed);
    const pool = samples();
    expect(pool.length).toBeGreaterThan(10);
    const outcomes: Record<string, number> = {};
    const started = performance.now();
    for (let i = 0; i < cases; i++) {
      const sample = pick(rng, pool);
      const [name, mutate] = pick(rng, mutations);
      const raw = mutate(sample.raw, rng);
      const label = `case ${i} (seed ${seed}): ${name} of ${sample.name}, ${raw.length} bytes`;
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<'hang'>((resolve) => {
        timer = setTimeout(() => resolve('hang'), perMessageMs);
      });
      let outcome: BounceReport | BounceParseError | 'hang' | Error;
      try {
        outcome = await Promise.race([parseBounce(raw), hang]);
      } catch (error) {
        outcome = error as Error;
      } finally {
        clearTimeout(timer);
      }
      if (outcome === 'hang') throw new Error(`${label}: still parsing after ${perMessageMs} ms`);
      if (outcome instanceof BounceParseError) {
        expect({ label, code: outcome.code }).toEqual({ label, code: expect.stringMatching(/^(?:too-large|mime-structure|time-budget|parser-failure)$/) });
        outcomes[`refused: ${outcome.code}`] = (outcomes[`refused: ${outcome.code}`] ?? 0) + 1;
        continue;
      }
      if (outcome instanceof Error) throw new Error(`${label}: crashed with ${outcome.stack ?? outcome.message}`);
      assertCleanReport(outcome);
      outcomes[outcome.kind] = (outcomes[outcome.kind] ?? 0) + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`Bounce fuzzing: ${cases} messages in ${seconds.toFixed(1)} s: ${Object.entries(outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    // Refusals are for what no bounce looks like; most mutated bounces are still read.
    expect(Object.entries(outcomes).filter(([k]) => !k.startsWith('refused')).reduce((n, [, v]) => n + v, 0)).toBeGreaterThan(cases / 2);
  });
});
