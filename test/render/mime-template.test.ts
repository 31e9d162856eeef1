import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { EditionHeaders, MessageValues, RenderedEdition } from '../../src/render/contract';
import {
  buildMimeTemplate,
  encodeQpPiece,
  loadMimeTemplate,
  personaliseMessage,
  prepareMimeTemplate,
  type MimeTemplate,
} from '../../src/render/mime-template';
import { renderEdition } from '../../src/render/render-edition';
import { escapeHtml, fillSlots } from '../../src/render/slots';
import { buildEditionContent, buildEditionHeaders, buildMessageValues } from './fixtures';

/** Minimal quoted-printable decoder (RFC 2045), independent of the encoder under test. */
function qpDecode(encoded: string): Buffer {
  const s = encoded.replace(/=\r\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

function firstAddress(field: AddressObject | AddressObject[] | undefined): { name: string; address?: string } {
  const obj = Array.isArray(field) ? field[0] : field;
  const a = obj?.value[0];
  if (!a) throw new Error('no address');
  return { name: a.name, address: a.address };
}

function listHeader(parsed: ParsedMail): { unsubscribe?: { url?: string; mail?: string }; id?: { name?: string; id?: string }; 'unsubscribe-post'?: { name?: string } } {
  return (parsed.headers.get('list') ?? {}) as ReturnType<typeof listHeader>;
}

const lines = (raw: Buffer): string[] => raw.toString('latin1').split('\r\n');

const recipients: Array<{ label: string; to: MessageValues['to']; greeting: string }> = [
  { label: 'Spanish accents', to: { email: 'jose.nunez+news@example.co.uk', name: 'Jos\u00e9 \u00d1\u00fa\u00f1ez' }, greeting: 'Good morning, Jos\u00e9.' },
  { label: 'CJK', to: { email: 'li.lei@example.cn', name: '\u674e\u96f7' }, greeting: 'Good morning, \u674e\u96f7.' },
  { label: 'quotes and comma', to: { email: 'pat.obrien+daybreak@example.com', name: 'O\'Brien, "Pat"' }, greeting: 'Good morning, Pat & co <3' },
  { label: 'plain ASCII', to: { email: 'ann.smith@example.org', name: 'Ann Smith' }, greeting: 'Good morning, Ann.' },
  { label: 'no name', to: { email: 'reader@example.net' }, greeting: 'Good morning.' },
  {
    label: 'very long non-ASCII name',
    to: { email: 'zoe@example.gr', name: '\u0396\u03c9\u03ae \u03a0\u03b1\u03c0\u03b1\u03b4\u03bf\u03c0\u03bf\u03cd\u03bb\u03bf\u03c5-\u039a\u03c9\u03bd\u03c3\u03c4\u03b1\u03bd\u03c4\u03b9\u03bd\u03af\u03b4\u03bf\u03c5 '.repeat(3).trim() },
    greeting: 'Good morning, \u0396\u03c9\u03ae.',
  },
  { label: 'looks like an encoded-word', to: { email: 'x@example.com', name: '=?utf-8?q?Boss?=' }, greeting: 'Hello.' },
];

describe('MIME template: build once, personalise per message', () => {
  let rendered: RenderedEdition;
  let headers: EditionHeaders;
  let template: MimeTemplate;

  beforeAll(async () => {
    rendered = await renderEdition(buildEditionContent());
    headers = buildEditionHeaders();
    template = buildMimeTemplate(rendered, headers);
  });

  const valuesFor = (r: (typeof recipients)[number], i: number): MessageValues =>
    buildMessageValues({
      to: r.to,
      email: r.to.email,
      greeting: r.greeting,
      unsubscribeUrl: `https://daybreak.example/u/national?s=${i}&t=Zk9x_3bQ-a1&e=${encodeURIComponent(r.to.email)}`,
      preferencesUrl: `https://daybreak.example/preferences?s=${i}&t=Zk9x_3bQ-a1`,
      messageId: `national-2026-11-24.${i}.nonce${i}`,
    });

  test.each(recipients.map((r, i) => [r.label, r, i] as const))('mailparser reads back exactly: %s', async (_label, r, i) => {
    const values = valuesFor(r, i);
    const raw = personaliseMessage(template, values);
    const parsed = await simpleParser(raw);

    expect(parsed.html).toBe(fillSlots(rendered.html, values, escapeHtml));
    expect(parsed.text).toBe(fillSlots(rendered.text, values));
    expect(parsed.subject).toBe(headers.subject);
    expect(firstAddress(parsed.to)).toEqual({ name: r.to.name ?? '', address: r.to.email });
    expect(firstAddress(parsed.from)).toEqual({ name: 'Daybreak National', address: 'national@daybreak.example' });
    expect(firstAddress(parsed.replyTo)).toEqual({ name: '', address: 'newsdesk@daybreak.example' });
    expect(parsed.messageId).toBe(`<national-2026-11-24.${i}.nonce${i}@daybreak.example>`);
    expect(parsed.date?.toISOString()).toBe('2026-11-24T06:00:00.000Z');
    const list = listHeader(parsed);
    expect(list.unsubscribe?.url).toBe(values.unsubscribeUrl);
    expect(list.unsubscribe?.mail).toBeUndefined();
    expect(list.id).toEqual({ name: 'National', id: 'national.daybreak.example' });
    expect(list['unsubscribe-post']?.name).toBe('List-Unsubscribe=One-Click');
    expect(parsed.headers.get('mime-version')).toBe('1.0');

    // Per-reader values reached the body, HTML-escaped in the HTML part only.
    expect(parsed.html).toContain(`href="${escapeHtml(values.unsubscribeUrl)}"`);
    expect(parsed.html).toContain(`<p>${escapeHtml(r.greeting)}</p>`);
    expect(parsed.text).toContain(`[${values.unsubscribeUrl}]`);
    expect(parsed.text).toContain(r.greeting);
    expect(parsed.html).not.toContain('%%slot:');
    expect(parsed.text).not.toContain('%%slot:');
  });

  test('equals what a straightforward per-message build (nodemailer) decodes to', async () => {
    for (const [i, r] of recipients.entries()) {
      // nodemailer writes a name like "=?utf-8?q?Boss?=" raw, so readers decode it to "Boss";
      // ours keeps the literal (checked above), so the reference is wrong for that one.
      if (r.label === 'looks like an encoded-word') continue;
      const values = valuesFor(r, i);
      const ours = await simpleParser(personaliseMessage(template, values));
      const reference = await new MailComposer({
        from: headers.from,
        replyTo: headers.replyTo,
        to: { name: r.to.name ?? '', address: r.to.email },
        subject: headers.subject,
        date: values.date,
        messageId: `<${values.messageId}@${headers.messageIdDomain}>`,
        // MailComposer has no `list` option (that is the Mailer's); set the headers directly.
        headers: {
          'List-Id': headers.listId,
          'List-Unsubscribe': `<${values.unsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
        text: fillSlots(rendered.text, values),
        html: fillSlots(rendered.html, values, escapeHtml),
      })
        .compile()
        .build();
      const theirs = await simpleParser(reference);
      expect(ours.html).toBe(theirs.html);
      expect(ours.text).toBe(theirs.text);
      expect(ours.subject).toBe(theirs.subject);
      expect(firstAddress(ours.to)).toEqual(firstAddress(theirs.to));
      expect(firstAddress(ours.from)).toEqual(firstAddress(theirs.from));
      expect(ours.messageId).toBe(theirs.messageId);
      expect(ours.date?.getTime()).toBe(theirs.date?.getTime());
      expect(listHeader(theirs).unsubscribe?.url).toBe(values.unsubscribeUrl);
      expect(listHeader(ours)).toEqual(listHeader(theirs));
    }
  });

  test('CRLF line endings only, and every line within 78 characters', () => {
    const raw = personaliseMessage(template, buildMessageValues({ unsubscribeUrl: 'https://daybreak.example/u/8412/Zk9x3bQ?a=1&b=2' }));
    const s = raw.toString('latin1');
    expect(s.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(s.endsWith('\r\n')).toBe(true);
    for (const line of lines(raw)) expect(line.length).toBeLessThanOrEqual(78);
    expect(s).toMatch(/^[\x09\x0a\x0d\x20-\x7e]*$/); // 7-bit
  });

  test('long names fold; only a long unsubscribe URL line passes 78, and stays far below 998', () => {
    const long = recipients[5];
    const raw = personaliseMessage(template, buildMessageValues({ to: long.to, unsubscribeUrl: `https://daybreak.example/u/national?token=${'A'.repeat(180)}&e=x%40y` }));
    for (const line of lines(raw)) {
      if (line.startsWith('List-Unsubscribe: <')) expect(line.length).toBeLessThanOrEqual(998);
      else expect(line.length).toBeLessThanOrEqual(78);
    }
    expect(raw.toString('latin1')).toMatch(/\r\nTo: =\?UTF-8\?Q\?[^\r]*\r\n =\?UTF-8\?Q\?/);
  });

  test('headers: order, one-click unsubscribe, boundary used only as delimiter', () => {
    const raw = personaliseMessage(template, buildMessageValues()).toString('latin1');
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
    const names = head.split('\r\n').filter((l) => !l.startsWith(' ')).map((l) => l.slice(0, l.indexOf(':')));
    expect(names).toEqual(['From', 'Reply-To', 'To', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'List-Id', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'Content-Type']);
    expect(head).toContain('\r\nDate: Tue, 24 Nov 2026 06:00:00 +0000\r\n');
    expect(head).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(head).not.toContain('mailto:');
    expect(raw.split(`--${template.boundary}`)).toHaveLength(4); // text, html, closing
    expect(raw.indexOf('Content-Type: text/plain')).toBeLessThan(raw.indexOf('Content-Type: text/html'));
  });

  test('List-Unsubscribe gets a mailto: only when one is configured', async () => {
    const t = buildMimeTemplate(rendered, buildEditionHeaders({ unsubscribeMailto: 'unsubscribe@daybreak.example' }));
    const values = buildMessageValues();
    const parsed = await simpleParser(personaliseMessage(t, values));
    expect(listHeader(parsed).unsubscribe).toEqual({ url: values.unsubscribeUrl, mail: 'unsubscribe@daybreak.example' });
  });

  test('non-ASCII and long subjects, From display names and List-Id phrases round-trip', async () => {
    const subject = 'National: Caf\u00e9 owners\u2019 \u00a32m deal \u2014 \u674e\u96f7 and the \u201cnorthern powerhouse\u201d, a very long subject indeed';
    const t = buildMimeTemplate(rendered, buildEditionHeaders({ subject, from: '"Daybreak, National \u00c9dition" <national@daybreak.example>', listId: 'National \u00c9dition <national.daybreak.example>' }));
    const raw = personaliseMessage(t, buildMessageValues());
    for (const line of lines(raw)) expect(line.length).toBeLessThanOrEqual(113);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(subject);
    expect(firstAddress(parsed.from)).toEqual({ name: 'Daybreak, National \u00c9dition', address: 'national@daybreak.example' });
    // mailparser leaves encoded-words in a List-Id phrase undecoded; check the raw header instead.
    expect(raw.toString('latin1')).toContain('\r\nList-Id: =?UTF-8?Q?National_=C3=89dition?= <national.daybreak.example>\r\n');

    const ascii = 'National: ' + 'growth strategy deliver '.repeat(6).trim();
    const t2 = buildMimeTemplate(rendered, buildEditionHeaders({ subject: ascii }));
    expect((await simpleParser(personaliseMessage(t2, buildMessageValues()))).subject).toBe(ascii);
  });

  test('Message-ID: a local part gets the edition domain; a full <id@domain> is kept', async () => {
    const local = await simpleParser(personaliseMessage(template, buildMessageValues({ messageId: 'national-2026-11-24.7.abc_-9' })));
    expect(local.messageId).toBe('<national-2026-11-24.7.abc_-9@daybreak.example>');
    const full = await simpleParser(personaliseMessage(template, buildMessageValues({ messageId: '<national-2026-11-24.7.x@mail.daybreak.example>' })));
    expect(full.messageId).toBe('<national-2026-11-24.7.x@mail.daybreak.example>');
  });

  test('an IDN recipient domain is sent as punycode', async () => {
    const raw = personaliseMessage(template, buildMessageValues({ to: { email: 'anna@b\u00fccher.example', name: 'Anna' } }));
    expect(raw.toString('latin1')).toContain('\r\nTo: Anna <anna@xn--bcher-kva.example>\r\n');
    // mailparser shows IDNs decoded again.
    expect(firstAddress((await simpleParser(raw)).to).address).toBe('anna@b\u00fccher.example');
  });

  test('refuses CR/LF and malformed values instead of writing them into headers', () => {
    const bad: Array<Partial<MessageValues>> = [
      { to: { email: 'eve@example.com', name: 'Eve\r\nBcc: victim@example.com' } },
      { to: { email: 'eve@example.com\r\nBcc: victim@example.com' } },
      { to: { email: 'not-an-address' } },
      { unsubscribeUrl: 'https://daybreak.example/u?x=1\r\nBcc: a@b.c' },
      { unsubscribeUrl: 'javascript:alert(1)' },
      { unsubscribeUrl: 'https://daybreak.example/u?x=<y>' },
      { messageId: 'abc\r\nBcc: a@b.c' },
      { messageId: 'has space' },
      { date: new Date('nope') },
    ];
    for (const b of bad) expect(() => personaliseMessage(template, buildMessageValues(b))).toThrow();
    expect(() => buildMimeTemplate(rendered, buildEditionHeaders({ subject: 'Hi\r\nBcc: a@b.c' }))).toThrow(/CR, LF/);
    expect(() => buildMimeTemplate(rendered, buildEditionHeaders({ from: 'a@b.example, c@d.example' }))).toThrow(/one mailbox/);
    expect(() => buildMimeTemplate(rendered, buildEditionHeaders({ replyTo: 'x@y.example\nBcc: z@w.example' }))).toThrow(/CR, LF/);
  });

  test('MimeTemplate is plain JSON: a stored and reloaded template makes the same bytes', () => {
    const json = JSON.stringify(template);
    const values = buildMessageValues();
    const original = personaliseMessage(template, values);
    expect(personaliseMessage(JSON.parse(json) as MimeTemplate, values).equals(original)).toBe(true);
    expect(personaliseMessage(loadMimeTemplate(json), values).equals(original)).toBe(true);
    expect(personaliseMessage(prepareMimeTemplate(template), values).equals(original)).toBe(true);
    expect(original.length).toBeGreaterThan(template.staticBytes);
    expect(() => loadMimeTemplate(JSON.stringify({ ...template, format: 'other' }))).toThrow(/MIME template/);
    expect(() => loadMimeTemplate(JSON.stringify({ ...template, segments: [{ slot: 'password', enc: 'qp-html' }] }))).toThrow(/bad MIME template segment/);
  });

  test('the edition boundary is fixed per template and random between editions', () => {
    const other = buildMimeTemplate(rendered, headers);
    expect(other.boundary).not.toBe(template.boundary);
    expect(template.boundary).toMatch(/^=_daybreak_[0-9a-f]{24}$/);
    const a = personaliseMessage(template, buildMessageValues()).toString('latin1');
    const b = personaliseMessage(template, buildMessageValues({ to: { email: 'b@example.com' } })).toString('latin1');
    expect(a).toContain(template.boundary);
    expect(b).toContain(template.boundary);
  });
});

describe('quoted-printable pieces', () => {
  const alphabet = ['a', 'Z', ' ', '\t', '.', '=', '\n', '\r\n', '\u00e9', '\u20ac', '\u674e', '\u{1F4C8}', 'From ', '%', '<', '&', '~'];
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };

  test('separately encoded pieces concatenate to the exact bytes, lines <= 76, no bare CR/LF', () => {
    for (let round = 0; round < 300; round++) {
      const pieces: string[] = [];
      for (let p = 0, n = 1 + random(6); p < n; p++) {
        let s = '';
        for (let k = 0, len = random(200); k < len; k++) s += alphabet[random(alphabet.length)];
        pieces.push(s);
      }
      const encoded = pieces.map(encodeQpPiece).join('');
      const expected = pieces.join('').replace(/\r\n|\r|\n/g, '\r\n');
      expect(qpDecode(encoded).toString('utf8')).toBe(expected);
      expect(encoded.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      for (const line of encoded.split('\r\n')) {
        expect(line.length).toBeLessThanOrEqual(76);
        expect(line).not.toMatch(/^\./);
        expect(line).not.toMatch(/^From /);
        expect(line).not.toMatch(/[ \t]$/);
      }
    }
  });

  test('the empty piece is empty; a piece ending in a line break needs no soft break', () => {
    expect(encodeQpPiece('')).toBe('');
    expect(encodeQpPiece('a\n')).toBe('a\r\n');
    expect(encodeQpPiece('a b')).toBe('a b=\r\n');
    expect(encodeQpPiece('a \n')).toBe('a=20\r\n');
    expect(encodeQpPiece('x=1')).toBe('x=3D1=\r\n');
  });
});
