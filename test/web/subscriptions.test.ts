import type { FastifyInstance } from 'fastify';
import { FixedClock } from '../../src/core/clock';
import type { Runtime } from '../../src/app/runtime';
import { settleSignups } from '../../src/subscribers/signup';
import { settleWelcomes } from '../../src/subscribers/welcome';
import { buildWebServer } from '../../src/web/server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { forgetReader } from '../../src/ops/erase';
import { encode, form, formToken } from '../helpers/forms';

const mainOf = (html: string) => /<main[\s\S]*<\/main>/.exec(html)?.[0] ?? '';

describe('subscriber pages and endpoints', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let app: FastifyInstance;
  const clock = new FixedClock('2026-11-24T09:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink();
    const config = testConfig(uniquePrefix('web-subs'), {
      smtpUrl: sink.url,
      web: {
        allowedOrigins: ['https://partner.example'],
        trustProxy: 'loopback',
        rateLimits: {
          signupPerIp: { limit: 1000, windowSeconds: 3600 },
          signupPerEmail: { limit: 3, windowSeconds: 3600 },
          badTokenPerIp: { limit: 1000, windowSeconds: 600 },
          pagesPerIp: { limit: 5000, windowSeconds: 600 },
        },
      },
    });
    runtime = testRuntime(config, { clock });
    app = await buildWebServer(runtime);
  });

  // Sign-ups finish after their answer: each test starts once the last one's have.
  // Confirming sends a welcome in the background: finished before the next test counts messages.
  afterEach(async () => {
    await settleSignups(runtime);
    await settleWelcomes(runtime);
  });

  afterAll(async () => {
    await app.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  async function getForm(): Promise<string> {
    const page = await app.inject({ method: 'GET', url: '/subscribe' });
    return formToken(page.body);
  }

  async function signUp(fields: Record<string, string | string[]>, headers: Record<string, string> = form) {
    return app.inject({ method: 'POST', url: '/subscribe', headers, payload: encode({ form_token: await getForm(), ...fields }) });
  }

  async function lastMailTo(address: string) {
    const message = [...sink.messages].reverse().find((m) => m.recipients.includes(address));
    if (!message) throw new Error(`no mail to ${address}`);
    return sink.parse(message);
  }

  const linkIn = (text: string | undefined, path: string) => new URL(new RegExp(`https?://\\S+/${path}/\\S+`).exec(text ?? '')?.[0] as string).pathname;

  test('the form has labelled public fields, National ticked, regional editions offered, a honeypot and a consent line', async () => {
    for (const url of ['/', '/subscribe']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      const html = res.body;
      expect(html).toContain('<label for="email">Email address</label>');
      expect(html).toMatch(/<input type="email" id="email" name="email"/);
      expect(html).toMatch(/<label for="name">First name/);
      expect(html).toMatch(/<input type="text" id="name" name="name"/);
      expect(html).toMatch(/name="newsletters" value="national" checked>/);
      for (const id of ['north-east', 'north-west', 'yorkshire', 'midlands', 'london', 'scotland']) {
        expect(html).toMatch(new RegExp(`name="newsletters" value="${id}">`));
      }
      expect(html).toContain('<legend>Newsletters</legend>');
      expect(html).toMatch(/class="hp" aria-hidden="true">.*name="leave_blank".*tabindex="-1"/);
      expect(html).toContain(runtime.config.web.consentText);
      expect(html).toMatch(/name="form_token" value="form\.0\./);
    }
  });

  test('a valid sign-up stores a pending reader, sends one confirmation email and confirming puts them on the lists', async () => {
    const before = sink.messages.length;
    const res = await signUp({ email: ' Grace@Example.COM ', name: 'Grace Hopper', newsletters: ['national', 'yorkshire'] }, { ...form, 'user-agent': 'TestBrowser/1.0' });
    expect(res.statusCode).toBe(200);
    expect(mainOf(res.body)).toContain('Check your inbox');
    await sink.waitForCount(before + 1);
    const pending = await runtime.subscribers.findByEmail('grace@example.com');
    expect(pending).toMatchObject({ status: 'pending', newsletters: ['national', 'yorkshire'], name: 'Grace Hopper' });
    expect(await runtime.subscribers.countMembers('national')).toBe(0);
    expect((await runtime.subscribers.counts(['yorkshire'])).yorkshire).toEqual({ confirmed: 0, pending: 1, unsubscribed: 0 });

    const mail = await lastMailTo('grace@example.com');
    expect(mail.subject).toBe('Confirm your subscription to Daybreak Business News');
    expect(mail.from?.text).toContain('national@daybreak.example');
    expect(mail.text).toContain('Hello Grace,');
    expect(mail.text).toMatch(/\* National/);
    expect(mail.text).toMatch(/\* Yorkshire/);
    expect(mail.html).toContain('Yes, subscribe me');
    const confirmPath = linkIn(mail.text, 'confirm');
    expect(mail.html).toContain(confirmPath);
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');

    clock.advance(3600_000);
    const confirmed = await app.inject({ method: 'GET', url: confirmPath, headers: { 'user-agent': 'MailClient/2.0' } });
    expect(confirmed.statusCode).toBe(200);
    expect(mainOf(confirmed.body)).toContain('You&#39;re subscribed');
    expect(mainOf(confirmed.body)).toContain('<li>Yorkshire</li>');
    const sub = await runtime.subscribers.findByEmail('grace@example.com');
    expect(sub?.status).toBe('confirmed');
    expect(await runtime.subscribers.pageMembers('yorkshire', 0, 10)).toEqual([sub?.id]);
    const [consent] = await runtime.subscribers.consent(sub!.id);
    expect(consent).toMatchObject({
      action: 'given',
      newsletters: ['national', 'yorkshire'],
      form: 'signup-page',
      consentText: runtime.config.web.consentText,
      ip: '127.0.0.1',
      userAgent: 'TestBrowser/1.0',
      confirmedIp: '127.0.0.1',
      confirmedUserAgent: 'MailClient/2.0',
      requestedAt: '2026-11-24T09:00:00.000Z',
      at: '2026-11-24T10:00:00.000Z',
    });

    // The link works once: clicking again changes nothing and says so.
    const again = await app.inject({ method: 'GET', url: confirmPath });
    expect(mainOf(again.body)).toContain('already been used');
    expect(await runtime.subscribers.consent(sub!.id)).toHaveLength(1);
  });

  test('bad input comes back next to the field, with what was typed kept and escaped, and nothing stored', async () => {
    const res = await signUp({ email: 'not an email"><script>alert(1)</script>', name: '<b>Bob</b>' });
    expect(res.statusCode).toBe(400);
    const html = mainOf(res.body);
    expect(res.body).toContain('<title>Error: ');
    expect(html).toContain('There is a problem');
    expect(html).toMatch(/id="email-error".*Enter an email address in the form name@example.com/);
    expect(html).toMatch(/id="name-error".*Your first name can only contain/);
    expect(html).toMatch(/id="newsletters-error".*Choose at least one newsletter/);
    expect(html).toContain('value="not an email&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).toContain('value="&lt;b&gt;Bob&lt;/b&gt;"');
    expect(html).not.toContain('<script>');
    expect(html).toMatch(/aria-invalid="true" aria-describedby="email-error"/);
    // No box ticked stays unticked (what the visitor chose is kept, not reset to the defaults).
    expect(html).not.toMatch(/value="national" checked/);

    const unknown = await signUp({ email: 'x@example.com', newsletters: ['national', 'atlantis'] });
    expect(unknown.statusCode).toBe(400);
    expect(mainOf(unknown.body)).toContain('Choose from the newsletters listed');
    expect(await runtime.subscribers.findByEmail('x@example.com')).toBeUndefined();

    const long = await signUp({ email: `${'a'.repeat(250)}@example.com`, name: 'N'.repeat(101), newsletters: 'national' });
    expect(long.statusCode).toBe(400);
    expect(mainOf(long.body)).toContain('too long (254 characters at most)');
    expect(mainOf(long.body)).toContain('100 characters or fewer');
  });

  test('header-injection attempts in the address or name are refused', async () => {
    for (const email of ['victim@example.com\r\nBcc: everyone@example.com', 'a@example.com, b@example.com', 'Bob <bob@example.com>']) {
      const res = await signUp({ email, newsletters: 'national' });
      expect(res.statusCode).toBe(400);
    }
    const res = await signUp({ email: 'inject@example.com', name: 'Eve\r\nBcc: x@example.com', newsletters: 'national' });
    expect(res.statusCode).toBe(400);
    expect(await runtime.subscribers.findByEmail('inject@example.com')).toBeUndefined();
  });

  test('a name is text, never a pre-encoded header: an RFC 2047 encoded-word in it reaches the To: as those characters', async () => {
    const name = '=?utf-8?q?Bob=0D=0ABcc:everyone@example.com?=';
    const before = sink.messages.length;
    const res = await signUp({ email: 'encoded-name@example.com', name, newsletters: 'national' });
    expect(res.statusCode).toBe(200);
    await sink.waitForCount(before + 1);
    const message = [...sink.messages].reverse().find((m) => m.recipients.includes('encoded-name@example.com'));
    expect(message?.recipients).toEqual(['encoded-name@example.com']);
    const mail = await lastMailTo('encoded-name@example.com');
    const to = Array.isArray(mail.to) ? mail.to : [mail.to];
    expect(to.flatMap((a) => a?.value ?? [])).toEqual([{ address: 'encoded-name@example.com', name }]);
    expect(mail.bcc).toBeUndefined();
    expect(mail.cc).toBeUndefined();
    // And a name with non-ASCII letters and quotes survives the same way.
    const other = 'Zoë "Z" O\'Brien, Jr.';
    await signUp({ email: 'quoted-name@example.com', name: other, newsletters: 'national' });
    await sink.waitForCount(before + 2);
    const second = await lastMailTo('quoted-name@example.com');
    expect((Array.isArray(second.to) ? second.to : [second.to]).flatMap((a) => a?.value ?? [])).toEqual([{ address: 'quoted-name@example.com', name: other }]);
  });

  test('the answer never reveals whether an address was already subscribed', async () => {
    await runtime.subscribers.add({ email: 'known@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    const before = sink.messages.length;
    const known = await signUp({ email: 'known@example.com', newsletters: 'national' });
    const fresh = await signUp({ email: 'unknown@example.com', newsletters: 'national' });
    const strip = (html: string) => mainOf(html).replace(/known@example\.com|unknown@example\.com/g, 'ADDRESS');
    expect(known.statusCode).toBe(fresh.statusCode);
    expect(strip(known.body)).toBe(strip(fresh.body));
    await sink.waitForCount(before + 2);
    // The mailbox owner may learn it: they get a note with their preferences link, not a confirm link.
    const note = await lastMailTo('known@example.com');
    expect(note.subject).toContain('already subscribed');
    expect(note.text).toContain('/preferences/');
    expect(note.text).not.toContain('/confirm/');
    expect(note.text).not.toContain('7 days');
  });

  test('the answer is sent before the address is looked up: one code path for new, pending, confirmed, suppressed and erased addresses', async () => {
    await runtime.subscribers.suppress('held-suppressed@example.com', { reason: 'hard bounce', source: 'test' });
    await runtime.subscribers.add({ email: 'held-erased@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    await forgetReader(runtime, 'held-erased@example.com', { now: clock.now(), source: 'test' });
    await runtime.subscribers.add({ email: 'held-confirmed@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    await runtime.subscribers.requestSignup({ email: 'held-pending@example.com', newsletters: ['national'], context: { form: 'test', consentText: 'test' }, now: clock.now() });
    const addresses = ['held-new@example.com', 'held-pending@example.com', 'held-confirmed@example.com', 'held-suppressed@example.com', 'held-erased@example.com'];

    // The store is held shut: no sign-up can learn anything about its address until it is let go.
    const store = runtime.subscribers;
    const real = store.requestSignup.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    const asked: string[] = [];
    const held = jest.spyOn(store, 'requestSignup').mockImplementation(async (input) => {
      asked.push(input.email);
      await gate;
      return real(input);
    });
    const answers = [];
    try {
      for (const email of addresses) answers.push(await signUp({ email, newsletters: 'national' }));
      const api = await app.inject({ method: 'POST', url: '/api/subscribers', payload: { email: 'held-suppressed@example.com', newsletters: ['national'] } });
      expect(api.statusCode).toBe(202);
    } finally {
      open();
    }
    // Every answer came back while the store had answered nobody, all alike but for the address shown.
    const strip = (html: string) => mainOf(html).replace(/held-[a-z]+@example\.com/g, 'ADDRESS');
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => strip(a.body))).size).toBe(1);
    await settleSignups(runtime);
    held.mockRestore();
    // And each then went the same way, through the store, which decided.
    expect(asked).toEqual([...addresses, 'held-suppressed@example.com']);
    expect(await runtime.subscribers.findByEmail('held-new@example.com')).toMatchObject({ status: 'pending' });
    expect(await runtime.subscribers.findByEmail('held-suppressed@example.com')).toBeUndefined();
    expect(await runtime.subscribers.findByEmail('held-erased@example.com')).toBeUndefined();
    await sink.waitForCount(1);
    expect(sink.messages.filter((m) => m.recipients.some((r) => r === 'held-suppressed@example.com' || r === 'held-erased@example.com'))).toEqual([]);
  });

  test('a suppressed address gets the same answer and nothing is stored or sent', async () => {
    await runtime.subscribers.suppress('blocked@example.com', { reason: 'complaint', source: 'test' });
    const before = sink.messages.length;
    const res = await signUp({ email: 'blocked@example.com', newsletters: 'national' });
    expect(res.statusCode).toBe(200);
    expect(mainOf(res.body)).toContain('Check your inbox');
    await settleSignups(runtime);
    expect(sink.messages.length).toBe(before);
    expect(await runtime.subscribers.findByEmail('blocked@example.com')).toBeUndefined();
  });

  test('a pending address that signs up again gets one new confirmation; both links stay good until one is used', async () => {
    const before = sink.messages.length;
    await signUp({ email: 'twice@example.com', newsletters: 'national' });
    await sink.waitForCount(before + 1);
    const first = linkIn((await lastMailTo('twice@example.com')).text, 'confirm');
    clock.advance(10 * 60_000);
    await signUp({ email: 'twice@example.com', newsletters: ['national', 'scotland'] });
    await sink.waitForCount(before + 2);
    expect(sink.messages.slice(before).filter((m) => m.recipients.includes('twice@example.com'))).toHaveLength(2);
    const second = linkIn((await lastMailTo('twice@example.com')).text, 'confirm');
    expect(second).not.toBe(first);
    // The latest form wins; the first link still confirms it, then the second is used up.
    const res = await app.inject({ method: 'GET', url: first });
    expect(mainOf(res.body)).toContain('<li>Scotland</li>');
    expect((await runtime.subscribers.findByEmail('twice@example.com'))?.newsletters).toEqual(['national', 'scotland']);
    expect(mainOf((await app.inject({ method: 'GET', url: second })).body)).toContain('already been used');
  });

  test('the honeypot: a filled hidden field is answered like a person and ignored', async () => {
    const before = sink.messages.length;
    const res = await signUp({ email: 'bot@example.com', newsletters: 'national', leave_blank: 'http://spam.example' });
    expect(res.statusCode).toBe(200);
    expect(mainOf(res.body)).toContain('Check your inbox');
    await settleSignups(runtime);
    expect(sink.messages.length).toBe(before);
    expect(await runtime.subscribers.findByEmail('bot@example.com')).toBeUndefined();
  });

  test('cross-site posting is refused; configured embedding sites may post the public fields', async () => {
    const foreign = await signUp({ email: 'csrf@example.com', newsletters: 'national' }, { ...form, origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(mainOf(foreign.body)).toContain('another website');
    const foreignReferer = await app.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': form['content-type'], referer: 'https://evil.example/page' }, payload: encode({ email: 'csrf@example.com', newsletters: 'national' }) });
    expect(foreignReferer.statusCode).toBe(403);
    // No Origin at all and no form token: not from our page.
    const bare = await app.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': form['content-type'] }, payload: encode({ email: 'csrf@example.com', newsletters: 'national' }) });
    expect(bare.statusCode).toBe(403);
    // A tampered form token.
    const token = await getForm();
    const tampered = await app.inject({ method: 'POST', url: '/subscribe', headers: form, payload: encode({ form_token: token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), email: 'csrf@example.com', newsletters: 'national' }) });
    expect(tampered.statusCode).toBe(403);
    expect(await runtime.subscribers.findByEmail('csrf@example.com')).toBeUndefined();

    const embedded = await app.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': form['content-type'], origin: 'https://partner.example' }, payload: encode({ email: 'embedded@example.com', name: 'Em', newsletters: ['national', 'london'] }) });
    expect(embedded.statusCode).toBe(200);
    expect(mainOf(embedded.body)).toContain('Check your inbox');
    await settleSignups(runtime);
    expect(await runtime.subscribers.pendingSignup((await runtime.subscribers.findIdByEmail('embedded@example.com')) as string)).toMatchObject({ context: { form: 'embedded:https://partner.example' } });
  });

  test('a form left open past its token expiry comes back with a clear message and the values kept', async () => {
    const token = await getForm();
    clock.advance(25 * 3600_000);
    const res = await app.inject({ method: 'POST', url: '/subscribe', headers: form, payload: encode({ form_token: token, email: 'slow@example.com', name: 'Slow', newsletters: 'london' }) });
    expect(res.statusCode).toBe(400);
    expect(mainOf(res.body)).toContain('open for a long time');
    expect(mainOf(res.body)).toContain('value="slow@example.com"');
    expect(mainOf(res.body)).toMatch(/value="london" checked/);
  });

  test('JSON API: validates, answers 202, CORS only for configured origins', async () => {
    const preflight = await app.inject({ method: 'OPTIONS', url: '/api/subscribers', headers: { origin: 'https://partner.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://partner.example');
    const evilPreflight = await app.inject({ method: 'OPTIONS', url: '/api/subscribers', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(evilPreflight.headers['access-control-allow-origin']).toBeUndefined();
    // CORS headers belong to the API only.
    const page = await app.inject({ method: 'GET', url: '/subscribe', headers: { origin: 'https://partner.example' } });
    expect(page.headers['access-control-allow-origin']).toBeUndefined();

    const before = sink.messages.length;
    const ok = await app.inject({ method: 'POST', url: '/api/subscribers', headers: { origin: 'https://partner.example' }, payload: { email: 'api@example.com', name: 'Api', newsletters: ['midlands'] } });
    expect(ok.statusCode).toBe(202);
    expect(ok.headers['access-control-allow-origin']).toBe('https://partner.example');
    expect(ok.json()).toMatchObject({ status: 'pending' });
    await sink.waitForCount(before + 1);
    expect((await lastMailTo('api@example.com')).text).toContain('Midlands');
    expect(await runtime.subscribers.pendingSignup((await runtime.subscribers.findIdByEmail('api@example.com')) as string)).toMatchObject({ context: { form: 'api:https://partner.example' } });

    const single = await app.inject({ method: 'POST', url: '/api/subscribers', payload: { email: 'api2@example.com', newsletters: 'national' } });
    expect(single.statusCode).toBe(202);

    const bad = await app.inject({ method: 'POST', url: '/api/subscribers', headers: { origin: 'https://partner.example' }, payload: { email: 'nope', newsletters: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid', fields: { email: expect.any(String), newsletters: 'Choose at least one newsletter' } });

    const foreign = await app.inject({ method: 'POST', url: '/api/subscribers', headers: { origin: 'https://evil.example' }, payload: { email: 'evil@example.com', newsletters: ['national'] } });
    expect(foreign.statusCode).toBe(403);
    const garbage = await app.inject({ method: 'POST', url: '/api/subscribers', headers: { 'content-type': 'application/json' }, payload: '{"email": ' });
    expect(garbage.statusCode).toBe(400);
  });

  test('an expired confirm link offers a new one, which works; tampered links are refused', async () => {
    const before = sink.messages.length;
    await signUp({ email: 'late@example.com', newsletters: 'national' });
    await sink.waitForCount(before + 1);
    const link = linkIn((await lastMailTo('late@example.com')).text, 'confirm');
    const token = link.split('/').pop() as string;

    const [purpose, id, exp, nonce, mac] = token.split('.');
    for (const forged of [`${purpose}.${Number(id) + 1}.${exp}.${nonce}.${mac}`, `${purpose}.${id}.${(parseInt(exp as string, 36) + 999_999).toString(36)}.${nonce}.${mac}`, `unsubscribe.${id}.${exp}.${nonce}.${mac}`, `${purpose}.${id}.${exp}.${nonce}`, `${token}x`]) {
      const res = await app.inject({ method: 'GET', url: `/confirm/${forged}` });
      expect(res.statusCode).toBe(400);
      expect(mainOf(res.body)).toContain('Link not recognised');
    }

    clock.advance(7 * 24 * 3600_000 + 60_000);
    const expired = await app.inject({ method: 'GET', url: link });
    expect(expired.statusCode).toBe(410);
    expect(mainOf(expired.body)).toContain('This link has expired');
    expect((await runtime.subscribers.findByEmail('late@example.com'))?.status).toBe('pending');
    const action = /<form method="post" action="([^"]+)"/.exec(expired.body)?.[1] as string;
    const resend = await app.inject({ method: 'POST', url: action, headers: form, payload: encode({ form_token: formToken(expired.body) }) });
    expect(resend.statusCode).toBe(200);
    expect(mainOf(resend.body)).toContain('new confirmation email');
    await sink.waitForCount(before + 2);
    const fresh = linkIn((await lastMailTo('late@example.com')).text, 'confirm');
    expect(fresh).not.toBe(link);
    const ok = await app.inject({ method: 'GET', url: fresh });
    expect(ok.statusCode).toBe(200);
    expect((await runtime.subscribers.findByEmail('late@example.com'))?.status).toBe('confirmed');
  });

  test('unsubscribe page: one button and a way to change preferences instead; one-click POST with any body', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'leaver@example.com', name: 'Lee', newsletters: ['national', 'london'], confirmed: true, source: 'test' });
    const token = runtime.signer.sign({ purpose: 'unsubscribe', subscriberId: subscriber.id, expiresAt: 0 });
    const page = await app.inject({ method: 'GET', url: `/unsubscribe/${token}` });
    expect(page.statusCode).toBe(200);
    const html = mainOf(page.body);
    expect(html.match(/<button/g)).toHaveLength(1);
    expect(html).toContain(`action="/unsubscribe/${token}"`);
    expect(html).toContain('leaver@example.com');
    const prefsLink = /href="(http:\/\/daybreak\.test\/preferences\/[^"]+)"/.exec(html)?.[1] as string;
    expect(prefsLink).toBeDefined();
    expect(runtime.signer.verify(prefsLink.split('/').pop() as string, 'preferences')).toMatchObject({ ok: true, claims: { subscriberId: subscriber.id } });
    // Viewing the page changed nothing (mail scanners follow GET links).
    expect((await runtime.subscribers.get(subscriber.id))?.status).toBe('confirmed');

    // A mail client's one-click POST as multipart/form-data, no cookie, no form token.
    const boundary = 'XyZ';
    const res = await app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n` });
    expect(res.statusCode).toBe(200);
    expect(mainOf(res.body)).toContain('no more newsletters');
    const after = await runtime.subscribers.get(subscriber.id);
    expect(after).toMatchObject({ status: 'unsubscribed', newsletters: [] });
    expect(await runtime.subscribers.pageMembers('london', 0, 1000)).not.toContain(subscriber.id);
    expect((await runtime.subscribers.consent(subscriber.id)).at(-1)).toMatchObject({ action: 'withdrawn', newsletters: ['national', 'london'], reason: 'one-click' });
    // Twice is fine.
    const again = await app.inject({ method: 'POST', url: `/unsubscribe/${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
    expect(again.statusCode).toBe(200);
    const tampered = await app.inject({ method: 'POST', url: `/unsubscribe/${token.replace(/\.(\d+)\./, '.999.')}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(tampered.statusCode).toBe(400);
    // A preferences token is not an unsubscribe token.
    const wrong = await app.inject({ method: 'POST', url: `/unsubscribe/${prefsLink.split('/').pop()}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrong.statusCode).toBe(400);
  });

  test('preferences: choose newsletters, change the name, unsubscribe from all, come back', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'prefs@example.com', name: 'Pat', newsletters: ['national'], confirmed: true, source: 'test' });
    const url = `/preferences/${runtime.signer.sign({ purpose: 'preferences', subscriberId: subscriber.id, expiresAt: 0 })}`;
    const page = await app.inject({ method: 'GET', url });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/value="national" checked/);
    expect(page.body).toContain('value="Pat"');

    const save = await app.inject({ method: 'POST', url, headers: form, payload: encode({ form_token: formToken(page.body), name: 'Patricia', newsletters: ['london', 'scotland'], action: 'save' }) });
    expect(save.statusCode).toBe(200);
    expect(mainOf(save.body)).toContain('Saved.');
    expect(await runtime.subscribers.get(subscriber.id)).toMatchObject({ name: 'Patricia', newsletters: ['london', 'scotland'], status: 'confirmed' });
    expect(await runtime.subscribers.pageMembers('national', 0, 1000)).not.toContain(subscriber.id);
    expect(await runtime.subscribers.pageMembers('scotland', 0, 1000)).toContain(subscriber.id);

    // Someone else's form token does not work here (tokens are bound to the reader).
    const othersToken = formToken((await app.inject({ method: 'GET', url: '/subscribe' })).body);
    const forged = await app.inject({ method: 'POST', url, headers: form, payload: encode({ form_token: othersToken, newsletters: 'national' }) });
    expect(forged.statusCode).toBe(403);
    const crossSite = await app.inject({ method: 'POST', url, headers: { ...form, origin: 'https://evil.example' }, payload: encode({ form_token: formToken(save.body), newsletters: 'national' }) });
    expect(crossSite.statusCode).toBe(403);

    const bad = await app.inject({ method: 'POST', url, headers: form, payload: encode({ form_token: formToken(save.body), name: 'x'.repeat(101), newsletters: ['london', 'atlantis'] }) });
    expect(bad.statusCode).toBe(400);
    expect(mainOf(bad.body)).toContain('100 characters or fewer');
    expect(mainOf(bad.body)).toContain('Choose from the newsletters listed');

    const leave = await app.inject({ method: 'POST', url, headers: form, payload: encode({ form_token: formToken(save.body), name: 'Patricia', newsletters: 'london', action: 'unsubscribe' }) });
    expect(mainOf(leave.body)).toContain('no more newsletters');
    expect((await runtime.subscribers.get(subscriber.id))?.status).toBe('unsubscribed');

    const back = await app.inject({ method: 'GET', url });
    expect(mainOf(back.body)).toContain('not receiving any of our newsletters');
    const rejoin = await app.inject({ method: 'POST', url, headers: form, payload: encode({ form_token: formToken(back.body), name: '', newsletters: 'national', action: 'save' }) });
    expect(rejoin.statusCode).toBe(200);
    expect(await runtime.subscribers.get(subscriber.id)).toMatchObject({ status: 'confirmed', newsletters: ['national'], name: undefined });
    expect((await runtime.subscribers.consent(subscriber.id)).at(-1)).toMatchObject({ action: 'given', newsletters: ['national'], form: 'preferences' });
  });

  test('links for an erased subscriber say so rather than failing', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'gone@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    await forgetReader(runtime, 'gone@example.com', { now: clock.now(), source: 'test' });
    const prefs = await app.inject({ method: 'GET', url: `/preferences/${runtime.signer.sign({ purpose: 'preferences', subscriberId: subscriber.id, expiresAt: 0 })}` });
    expect(prefs.statusCode).toBe(404);
    expect(mainOf(prefs.body)).toContain('No subscription found');
    const one = await app.inject({ method: 'POST', url: `/unsubscribe/${runtime.signer.sign({ purpose: 'unsubscribe', subscriberId: subscriber.id, expiresAt: 0 })}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(one.statusCode).toBe(200);
  });
});

describe('rate limits', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let app: FastifyInstance;

  beforeAll(async () => {
    sink = await startSmtpSink();
    runtime = testRuntime(testConfig(uniquePrefix('web-limits'), {
      smtpUrl: sink.url,
      web: { rateLimits: { signupPerIp: { limit: 6, windowSeconds: 60 }, signupPerEmail: { limit: 2, windowSeconds: 60 }, badTokenPerIp: { limit: 3, windowSeconds: 60 }, pagesPerIp: { limit: 1000, windowSeconds: 60 } } },
    }));
    app = await buildWebServer(runtime);
  });

  // Sign-ups finish after their answer: each test starts once the last one's have.
  // Confirming sends a welcome in the background: finished before the next test counts messages.
  afterEach(async () => {
    await settleSignups(runtime);
    await settleWelcomes(runtime);
  });

  afterAll(async () => {
    await app.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  const post = async (email: string, ip: string, extraHeaders: Record<string, string> = {}) => {
    const page = await app.inject({ method: 'GET', url: '/subscribe', remoteAddress: ip });
    return app.inject({ method: 'POST', url: '/subscribe', remoteAddress: ip, headers: { ...form, ...extraHeaders }, payload: encode({ form_token: formToken(page.body), email, newsletters: 'national' }) });
  };

  test('by default no proxy is trusted: rotating X-Forwarded-For from loopback still hits the per-IP limit', async () => {
    expect(runtime.config.web.trustProxy).toBe(false);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await post(`xff-${i}@example.com`, '127.0.0.1', { 'x-forwarded-for': `198.51.100.${i + 1}` })).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    const api = await app.inject({ method: 'POST', url: '/api/subscribers', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.99' }, payload: { email: 'xff-api@example.com', newsletters: ['national'] } });
    expect(api.statusCode).toBe(429);
  });

  test('per address: a third confirmation within the window is refused with a clear 429 page', async () => {
    expect((await post('limited@example.com', '10.1.0.1')).statusCode).toBe(200);
    expect((await post('LIMITED@example.com', '10.1.0.2')).statusCode).toBe(200);
    const third = await post('limited@example.com', '10.1.0.3');
    expect(third.statusCode).toBe(429);
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(mainOf(third.body)).toContain('Too many requests');
    expect(mainOf(third.body)).toContain('already sent several confirmation emails to this address');
    await settleSignups(runtime);
    expect(sink.messages.filter((m) => m.recipients.includes('limited@example.com'))).toHaveLength(2);
  });

  test('per IP: sign-ups from one address are capped, others are not affected', async () => {
    const ip = '10.2.0.1';
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await post(`ip-${i}@example.com`, ip)).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    const blocked = await post('ip-x@example.com', ip);
    expect(mainOf(blocked.body)).toContain('a lot of requests from your network');
    expect((await post('other-ip@example.com', '10.2.0.2')).statusCode).toBe(200);
    // IPv6 addresses count per /64: rotating within one network does not get round the limit.
    const v6 = [];
    for (let i = 0; i < 7; i++) v6.push((await post(`v6-${i}@example.com`, `2001:db8:1:2::${i + 1}`)).statusCode);
    expect(v6.at(-1)).toBe(429);
    // The JSON API shares the per-IP limit and answers in JSON.
    const api = await app.inject({ method: 'POST', url: '/api/subscribers', remoteAddress: ip, payload: { email: 'api-limited@example.com', newsletters: ['national'] } });
    expect(api.statusCode).toBe(429);
    expect(api.json()).toMatchObject({ error: 'rate-limited', retryAfterSeconds: expect.any(Number) });
  });

  test('bad tokens are counted per IP; one-click unsubscribe is never limited', async () => {
    const ip = '10.3.0.1';
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'GET', url: `/preferences/preferences.1.0.bad${i}`, remoteAddress: ip })).statusCode);
    expect(codes).toEqual([400, 400, 400, 429, 429]);
    const { subscriber } = await runtime.subscribers.add({ email: 'many@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
    const token = runtime.signer.sign({ purpose: 'unsubscribe', subscriberId: subscriber.id, expiresAt: 0 });
    // A mail provider posts thousands from one address: all honoured.
    for (let i = 0; i < 20; i++) {
      const res = await app.inject({ method: 'POST', url: `/unsubscribe/${token}`, remoteAddress: '10.4.0.1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
      expect(res.statusCode).toBe(200);
    }
  });
});
