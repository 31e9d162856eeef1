import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../src/app/runtime';
import { FixedClock } from '../../src/core/clock';
import { requestSignup } from '../../src/subscribers/signup';
import { deliverDueWelcomes, settleWelcomes } from '../../src/subscribers/welcome';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type CapturedMessage, type SmtpSink } from '../helpers/smtp-sink';

describe('the welcome email', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let second: Runtime;
  let app: FastifyInstance;
  /** Addresses whose mail server is down for now (4xx at RCPT). */
  const down = new Set<string>();
  // Monday 23 November 2026, 20:00 in London: National's next slot is Tuesday 06:00.
  const clock = new FixedClock('2026-11-23T20:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink({ refuse: (address) => (down.has(address) ? { code: 451, message: '4.3.0 try again later' } : undefined) });
    const config = testConfig(uniquePrefix('welcome'), { smtpUrl: sink.url, delivery: { attempts: 1, backoffMs: 10 } });
    runtime = testRuntime(config, { clock });
    // A second process on the same Redis (a second web server, or the scheduler's sweep).
    second = testRuntime(config, { clock });
    app = await buildWebServer(runtime);
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(runtime);
    await second.close();
    second.redis.disconnect();
    await sink.close();
  });

  const to = (address: string) => sink.messages.filter((m) => m.recipients.includes(address));
  const isWelcome = (m: CapturedMessage) => /^Message-ID: <welcome\./m.test(m.raw.toString('latin1'));
  const welcomesTo = (address: string) => to(address).filter(isWelcome);

  /** Signs up through the domain use case (it emails the confirm link) and returns the link's path. */
  async function signUp(email: string, newsletters: string[], name?: string): Promise<string> {
    const before = to(email).length;
    await requestSignup(runtime, { email, newsletters, ...(name ? { name } : {}) }, { form: 'signup-page', consentText: runtime.config.web.consentText });
    const confirmation = to(email)[before];
    const text = (await sink.parse(confirmation as CapturedMessage)).text ?? '';
    const url = /http:\/\/daybreak\.test\/confirm\/\S+/.exec(text)?.[0];
    if (!url) throw new Error(`no confirm link in:\n${text}`);
    return new URL(url).pathname;
  }

  test('a confirmed reader gets one welcome: what they chose, when the first edition arrives in its time zone, how to manage it, and the List-Unsubscribe headers', async () => {
    const confirm = await signUp('ada@example.com', ['national', 'north-east'], 'Ada Lovelace');
    // The link followed twice at once (a double click, a mail scanner and the reader), and again later.
    const [a, b] = await Promise.all([app.inject({ url: confirm }), app.inject({ url: confirm })]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([200, 200]);
    await settleWelcomes(runtime);
    await app.inject({ url: confirm });
    await settleWelcomes(runtime);
    expect(welcomesTo('ada@example.com')).toHaveLength(1);

    const raw = (welcomesTo('ada@example.com')[0] as CapturedMessage).raw.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
    expect(raw).toMatch(/^List-Unsubscribe: <http:\/\/daybreak\.test\/unsubscribe\/[^>]+>$/m);
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(raw).toMatch(/^List-Id: National <national\.daybreak\.example>$/m);
    const mail = await sink.parse(welcomesTo('ada@example.com')[0] as CapturedMessage);
    expect(mail.subject).toBe('Welcome to Daybreak Business News');
    expect(mail.text).toContain('Hello Ada,');
    expect(mail.text).toContain('National');
    expect(mail.text).toContain('North East');
    // National: weekdays 06:00 London; the first one is Tuesday morning, in UK time.
    expect(mail.text).toMatch(/First edition: Tuesday 24 November at 06:00 GMT/);
    expect(mail.text).toMatch(/http:\/\/daybreak\.test\/preferences\/\S+/);
    expect(mail.html).toContain('Manage your newsletters');
    // The one-click unsubscribe link in the header works (RFC 8058).
    const unsubscribe = /^List-Unsubscribe: <(http[^>]+)>/m.exec(raw)?.[1] as string;
    const id = (await runtime.subscribers.findByEmail('ada@example.com'))?.id as string;
    expect(runtime.signer.verify(new URL(unsubscribe).pathname.split('/').pop() as string, 'unsubscribe')).toMatchObject({ ok: true, claims: { subscriberId: id } });
    // Owed no more, and recorded on the reader.
    expect(await runtime.subscribers.welcomeOwed(id)).toBeUndefined();
    expect((await runtime.subscribers.history(id)).filter((h) => h.event === 'welcome sent')).toHaveLength(1);
    // The sweep finds nothing to send.
    clock.advance(10 * 60_000);
    expect((await deliverDueWelcomes(runtime)).sent).toBe(0);
    expect(welcomesTo('ada@example.com')).toHaveLength(1);
  });

  test('a process that dies between the confirmation and the welcome: the welcome is still owed, and the sweep sends it once', async () => {
    const confirm = await signUp('bob@example.com', ['national']);
    const token = confirm.split('/').pop() as string;
    const check = runtime.signer.verify(token, 'confirm', clock.now());
    if (!check.ok) throw new Error('bad confirm token');
    // The confirmation is recorded, and the process dies before it sends anything.
    const confirmed = await runtime.subscribers.confirmSignup(check.claims.subscriberId, check.claims.nonce as string, { now: clock.now() });
    expect(confirmed.outcome).toBe('confirmed');
    expect(await runtime.subscribers.welcomeOwed(check.claims.subscriberId)).toMatchObject({ kind: 'new', newsletters: ['national'] });
    // Too soon for the sweep (the confirming process may still be sending it).
    expect((await deliverDueWelcomes(runtime)).sent).toBe(0);
    clock.advance(3 * 60_000);
    // Two sweeps at once, from two processes: one sends.
    const [x, y] = await Promise.all([deliverDueWelcomes(runtime), deliverDueWelcomes(second)]);
    expect(x.sent + y.sent).toBe(1);
    expect(welcomesTo('bob@example.com')).toHaveLength(1);
    expect((await deliverDueWelcomes(runtime)).sent).toBe(0);
  });

  test('a welcome the mail server refused stays owed; following the confirm link again sends it, once', async () => {
    const confirm = await signUp('cy@example.com', ['national']);
    down.add('cy@example.com');
    expect((await app.inject({ url: confirm })).statusCode).toBe(200);
    await settleWelcomes(runtime);
    expect(welcomesTo('cy@example.com')).toHaveLength(0);
    const id = (await runtime.subscribers.findByEmail('cy@example.com'))?.id as string;
    expect(await runtime.subscribers.welcomeOwed(id)).toBeDefined();
    down.delete('cy@example.com');
    expect((await app.inject({ url: confirm })).body).toContain('already');
    await settleWelcomes(runtime);
    expect(welcomesTo('cy@example.com')).toHaveLength(1);
    await app.inject({ url: confirm });
    await settleWelcomes(runtime);
    clock.advance(5 * 60_000);
    await deliverDueWelcomes(runtime);
    expect(welcomesTo('cy@example.com')).toHaveLength(1);
  });

  test('a reader adding a newsletter is welcomed to that one; one who left before the welcome went gets none', async () => {
    await signUp('ada@example.com', ['yorkshire']).then((path) => app.inject({ url: path }));
    await settleWelcomes(runtime);
    const added = welcomesTo('ada@example.com');
    expect(added).toHaveLength(2);
    const mail = await sink.parse(added[1] as CapturedMessage);
    expect(mail.subject).toBe('Your new Daybreak Business News newsletters');
    expect(mail.text).toContain('Yorkshire');
    expect(mail.text).not.toMatch(/^\s+National$/m);

    const confirm = await signUp('dee@example.com', ['national']);
    const check = runtime.signer.verify(confirm.split('/').pop() as string, 'confirm', clock.now());
    if (!check.ok) throw new Error('bad confirm token');
    await runtime.subscribers.confirmSignup(check.claims.subscriberId, check.claims.nonce as string, { now: clock.now() });
    await runtime.subscribers.unsubscribe(check.claims.subscriberId, { reason: 'test' });
    clock.advance(5 * 60_000);
    expect((await deliverDueWelcomes(runtime)).skipped).toBe(1);
    expect(welcomesTo('dee@example.com')).toHaveLength(0);
  });
});
