import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../src/core/logger';
import { createRedis } from '../../src/core/redis';
import { cancelEdition } from '../../src/ops/control';
import { runEditionNow } from '../../src/ops/run-now';
import { Runtime } from '../../src/app/runtime';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { editionId, opsFixture, type OpsFixture } from './fixture';

/** A loopback port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('web for ops and readers', () => {
  let f: OpsFixture;
  let app: FastifyInstance;
  const names: string[] = [];

  beforeAll(async () => {
    // One reader's server refuses for good (a failed send), one address is suppressed (skipped).
    f = await opsFixture('web', { readers: 12, sink: { refuse: (a) => (a === 'reader-5@example.com' ? { code: 550, message: '5.1.1 user unknown' } : undefined) } });
    for (let i = 1; i <= 12; i++) names.push(`Reader Number${i}`);
    await f.runtime.subscribers.suppress('reader-9@example.com', { reason: 'complaint', source: 'test' });
    await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    app = await buildWebServer(f.runtime);
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('/archive/:newsletter/:date is the edition as sent, with no personal data in it', async () => {
    const res = await app.inject({ url: '/archive/national/2026-11-24' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const html = res.body;
    const edition = await f.runtime.editions.get(editionId);
    for (const a of edition?.articles ?? []) expect(html.replace(/&amp;/g, '&')).toContain(a.title);
    expect(html).toContain('Good morning.');
    expect(html).not.toContain('%%slot:');
    expect(html).not.toMatch(/reader-\d+@example\.com/);
    expect(html).not.toContain('@example.com');
    for (const name of names) expect(html).not.toContain(name);
    expect(html).not.toContain('Number');
    expect(html).not.toContain('/unsubscribe/');
    expect(html).not.toContain('/preferences/');
    // The help page older stored editions' footer links point to still answers.
    const help = await app.inject({ url: '/archive/personal-links' });
    expect(help.statusCode).toBe(200);
    expect(help.body).toContain('the same for every reader');
  });

  test('the web copy drops the email-only chrome: no "view in browser" link to itself, no subscriber footer', async () => {
    const html = (await app.inject({ url: '/archive/national/2026-11-24' })).body;
    expect(html).not.toContain('Trouble reading this email?');
    expect(html).not.toContain('View it in your browser');
    expect(html).not.toContain('href="http://daybreak.test/archive/national/2026-11-24"');
    expect(html).not.toContain('You are receiving this');
    expect(html).not.toContain('Unsubscribe');
    expect(html).not.toContain('Manage your preferences');
    expect(html).not.toContain('personal-links');
    expect(html).not.toContain('email-only');
    // The stories, the sign-up block, past editions and the postal address stay.
    expect(html).toContain('Sign up for free');
    expect(html).toMatch(/>Past editions<\/a>/);
    expect(html).toContain(f.config.organisation.postalAddress);
    // The emails readers got keep all of it.
    const sent = f.sink.messages.find((m) => m.recipients.includes('reader-1@example.com'));
    if (!sent) throw new Error('reader-1 got no copy');
    const email = (await f.sink.parse(sent)).html || '';
    expect(email).toContain('View it in your browser');
    expect(email).toContain('/unsubscribe/');
  });

  test('/archive lists published editions; unknown, malformed and cancelled ones are 404', async () => {
    const list = await app.inject({ url: '/archive' });
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('href="/archive/national/2026-11-24"');
    expect(list.body).toContain('National: Tuesday 24 November 2026');
    expect((await app.inject({ url: '/archive/national' })).body).toContain('href="/archive/national/2026-11-24"');
    expect((await app.inject({ url: '/archive/national/2026-11-25' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/archive/national/yesterday' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/archive/NATIONAL%3Cscript%3E/2026-11-24' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/archive/nope' })).statusCode).toBe(404);

    f.clock.set('2026-11-25T06:00:00Z');
    await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-25' });
    await f.runtime.redis.hset(f.runtime.keys.edition('national-2026-11-25'), 'state', 'sending');
    await cancelEdition(f.runtime, 'national-2026-11-25', { by: 'test' });
    expect((await app.inject({ url: '/archive/national/2026-11-25' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/archive' })).body).not.toContain('2026-11-25');
  });

  test('/healthz: 200 with Redis and SMTP up, JSON', async () => {
    const res = await app.inject({ url: '/healthz' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { status: string; redis: { ok: boolean; ms: number }; smtp: { ok: boolean; transport: string } };
    expect(body.status).toBe('ok');
    expect(body.redis.ok).toBe(true);
    expect(body.smtp).toMatchObject({ ok: true, transport: `SMTP smtp://127.0.0.1:${f.sink.port}` });
  });

  test('/healthz: 503 when the SMTP server is down', async () => {
    const deadSmtp = testRuntime(testConfig(uniquePrefix('web-dead-smtp'), { smtpUrl: `smtp://127.0.0.1:${await closedPort()}` }));
    const smtpDown = await buildWebServer(deadSmtp);
    try {
      const res = await smtpDown.inject({ url: '/healthz' });
      expect(res.statusCode).toBe(503);
      const body = res.json() as { status: string; redis: { ok: boolean }; smtp: { ok: boolean; error: string } };
      expect(body.status).toBe('unhealthy');
      expect(body.redis.ok).toBe(true);
      expect(body.smtp.ok).toBe(false);
      expect(body.smtp.error).toMatch(/ECONNREFUSED|connect/);
    } finally {
      await smtpDown.close();
      await closeRuntime(deadSmtp);
    }
  });

  test('/healthz: 503 when Redis does not answer', async () => {
    // A "Redis" that accepts connections and never replies: the hung server a health check must not hang on.
    const sockets = new Set<net.Socket>();
    const hung = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const config = testConfig(uniquePrefix('web-hung-redis'), { smtpUrl: f.sink.url, redisUrl: `redis://127.0.0.1:${(hung.address() as net.AddressInfo).port}` });
    const redis = createRedis(config.redisUrl, { retryStrategy: () => null });
    redis.on('error', () => undefined);
    const runtime = new Runtime(config, { logger: silentLogger, redis });
    const web = await buildWebServer(runtime);
    try {
      const started = Date.now();
      const res = await web.inject({ url: '/healthz' });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(res.statusCode).toBe(503);
      const body = res.json() as { status: string; redis: { ok: boolean; error: string }; smtp: { ok: boolean } };
      expect(body.status).toBe('unhealthy');
      expect(body.redis).toMatchObject({ ok: false, error: 'Redis did not answer within 1500 ms' });
      expect(body.smtp.ok).toBe(true);
    } finally {
      await web.close();
      await runtime.transport.close();
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
    }
  });

  test('/metrics: Prometheus text with the message counters, latency, queue depth and edition gauges', async () => {
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.body;
    // Two editions were sent here: 10 + 10 delivered; reader-5 failed (a hard bounce) in the first and,
    // suppressed by the bounce policy since, was skipped in the second; reader-9 was skipped in both.
    expect(text).toContain('# TYPE daybreak_messages_sent_total counter');
    expect(text).toContain('daybreak_messages_sent_total{newsletter="national"} 20');
    expect(text).toContain('daybreak_messages_failed_total{newsletter="national"} 1');
    expect(text).toContain('daybreak_messages_skipped_total{newsletter="national"} 3');
    expect(text).toMatch(/daybreak_messages_bounced_total\{newsletter="national"\} \d+/);
    expect(text).toContain('# TYPE daybreak_send_latency_seconds histogram');
    expect(text).toContain('daybreak_send_latency_seconds_count{newsletter="national"} 20');
    expect(text).toContain('daybreak_send_latency_seconds_bucket{newsletter="national",le="+Inf"} 20');
    expect(text).toMatch(/daybreak_send_latency_seconds_sum\{newsletter="national"\} [\d.]+/);
    expect(text).toContain('daybreak_queue_jobs{queue="send.national",state="waiting"} 0');
    expect(text).toContain('daybreak_queue_paused{queue="send.national"} 0');
    expect(text).toContain('daybreak_edition_messages{newsletter="national",edition="national-2026-11-25",status="sent"} 10');
    expect(text).toContain('daybreak_edition_state{newsletter="national",edition="national-2026-11-25",state="cancelled"} 1');
    expect(text).toMatch(/daybreak_edition_duration_seconds\{newsletter="national",edition="national-2026-11-25"\} \d/);
    expect(text).toContain('daybreak_web_process_cpu_seconds_total');
    // Latency buckets are cumulative.
    const buckets = [...text.matchAll(/daybreak_send_latency_seconds_bucket\{newsletter="national",le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
  });

  describe('with DAYBREAK_METRICS_TOKEN set', () => {
    const token = 'ops-token-0123456789abcdef';
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    let guarded: FastifyInstance;
    beforeAll(async () => {
      guarded = await buildWebServer(f.runtime, { env: { DAYBREAK_METRICS_TOKEN: token } });
    });
    afterAll(async () => {
      await guarded.close();
    });

    test('/metrics needs the bearer token: 401 with a Bearer challenge without it or with a wrong one', async () => {
      for (const headers of [{}, bearer('wrong-token'), { authorization: `Basic ${Buffer.from(`ops:${token}`).toString('base64')}` }, bearer(`${token}x`)]) {
        const res = await guarded.inject({ url: '/metrics', headers });
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="daybreak-ops"');
        expect(res.body).not.toContain('daybreak_');
      }
      const ok = await guarded.inject({ url: '/metrics', headers: bearer(token) });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('daybreak_messages_sent_total{newsletter="national"}');
      // Unset, it stays open (the default): the server built without the variable above answers.
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
    });

    test('/healthz without the token answers only the status (so probes keep working); details need the token', async () => {
      const bare = await guarded.inject({ url: '/healthz' });
      expect(bare.statusCode).toBe(200);
      expect(bare.json()).toEqual({ status: 'ok' });
      expect(bare.body).not.toContain('127.0.0.1');
      expect((await guarded.inject({ url: '/healthz', headers: bearer('wrong-token') })).statusCode).toBe(401);
      const detailed = await guarded.inject({ url: '/healthz', headers: bearer(token) });
      expect(detailed.statusCode).toBe(200);
      expect(detailed.json()).toMatchObject({ status: 'ok', redis: { ok: true }, smtp: { ok: true, transport: `SMTP smtp://127.0.0.1:${f.sink.port}` } });
    });

    test('an unhealthy install is still 503 without the token, with no details', async () => {
      const deadSmtp = testRuntime(testConfig(uniquePrefix('web-dead-smtp-token'), { smtpUrl: `smtp://127.0.0.1:${await closedPort()}` }));
      const web = await buildWebServer(deadSmtp, { env: { DAYBREAK_METRICS_TOKEN: token } });
      try {
        const res = await web.inject({ url: '/healthz' });
        expect(res.statusCode).toBe(503);
        expect(res.json()).toEqual({ status: 'unhealthy' });
      } finally {
        await web.close();
        await closeRuntime(deadSmtp);
      }
    });

    test("the Dockerfile's HEALTHCHECK command passes against a guarded server (and fails when nothing answers)", async () => {
      const dockerfile = fs.readFileSync(path.join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
      const script = /CMD node -e "([^"]+)"/.exec(dockerfile)?.[1];
      if (!script) throw new Error('no `CMD node -e "..."` HEALTHCHECK in the Dockerfile');
      const listening = await buildWebServer(f.runtime, { env: { DAYBREAK_METRICS_TOKEN: token } });
      await listening.listen({ port: 0, host: '127.0.0.1' });
      try {
        const port = (listening.server.address() as net.AddressInfo).port;
        // Asynchronously: the server answering it lives in this process.
        const run = (p: number) =>
          new Promise<number | null>((resolve) => {
            execFile(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, PORT: String(p) }, timeout: 20_000 }, (error) => resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0));
          });
        expect(await run(port)).toBe(0);
        expect(await run(await closedPort())).toBe(1);
      } finally {
        await listening.close();
      }
    });
  });

  test('/admin/queues: off (404) without credentials in the environment; behind basic auth with them', async () => {
    expect((await app.inject({ url: '/admin/queues' })).statusCode).toBe(404);
    const saved = { user: process.env.DAYBREAK_ADMIN_USER, password: process.env.DAYBREAK_ADMIN_PASSWORD };
    process.env.DAYBREAK_ADMIN_USER = 'ops';
    process.env.DAYBREAK_ADMIN_PASSWORD = 'correct horse battery';
    const admin = await buildWebServer(f.runtime);
    try {
      const none = await admin.inject({ url: '/admin/queues' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Basic');
      const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
      expect((await admin.inject({ url: '/admin/queues', headers: basic('ops', 'wrong') })).statusCode).toBe(401);
      expect((await admin.inject({ url: '/admin/queues/api/queues', headers: basic('ops', 'wrong') })).statusCode).toBe(401);
      const ok = await admin.inject({ url: '/admin/queues', headers: basic('ops', 'correct horse battery') });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('Daybreak queues');
      const api = await admin.inject({ url: '/admin/queues/api/queues', headers: basic('ops', 'correct horse battery') });
      expect(api.statusCode).toBe(200);
      const names = (api.json() as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
      // Each newsletter's queue, and one per mailbox provider group (pacing, docs/delivery.md).
      const groups = ['google', 'microsoft', 'yahoo', 'apple'];
      expect(names).toEqual(['editions', ...f.config.newsletters.flatMap((n) => [`send.${n.id}`, ...groups.map((g) => `send.${n.id}.${g}`)])].sort());
    } finally {
      await admin.close();
      if (saved.user === undefined) delete process.env.DAYBREAK_ADMIN_USER; else process.env.DAYBREAK_ADMIN_USER = saved.user;
      if (saved.password === undefined) delete process.env.DAYBREAK_ADMIN_PASSWORD; else process.env.DAYBREAK_ADMIN_PASSWORD = saved.password;
    }
  });
});
