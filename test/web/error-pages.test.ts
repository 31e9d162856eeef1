import net from 'node:net';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/core/logger';
import { createRedis } from '../../src/core/redis';
import { Runtime } from '../../src/app/runtime';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, testConfig, uniquePrefix } from '../helpers/runtime';

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

/** A loopback port with nothing listening: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('error pages', () => {
  let runtime: Runtime;
  let app: FastifyInstance;
  const logs = capture();

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('error-pages'));
    runtime = new Runtime(config, { logger: createLogger({ level: 'debug', destination: logs.stream, pretty: false }), redis: createRedis(config.redisUrl) });
    app = await buildWebServer(runtime);
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(runtime);
  });

  test('an unknown path is the site\'s own "Page not found" page, with the way to sign-up and the archive', async () => {
    const res = await app.inject({ url: '/no/such/page?x=1', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.body).toContain('<header class="masthead"><p>Daybreak Business News</p></header>');
    expect(res.body).toContain('<h1>Page not found</h1>');
    expect(res.body).toContain('<a href="/subscribe">');
    expect(res.body).toContain('<a href="/archive">');
    expect(res.body).not.toContain('"statusCode"');
    // A browser's plain "*/*" and no Accept header at all get the page too.
    expect((await app.inject({ url: '/nope' })).headers['content-type']).toContain('text/html');
    expect((await app.inject({ url: '/nope', headers: { accept: '*/*' } })).headers['content-type']).toContain('text/html');
  });

  test('a missing sample image, or a name outside the folder, is the same 404 page; a real one is served', async () => {
    for (const url of ['/static/samples/images/nope.png', '/static/samples/images/..%2Fbusiness-news.json', '/static/samples/images/chart.exe']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(404);
      expect(res.body).toContain('Page not found');
    }
    const png = await app.inject({ url: '/static/samples/images/chart.png' });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  test('under /api and /webhooks, and for a client asking for JSON only, a 404 is JSON', async () => {
    for (const [url, accept] of [['/api/nope', '*/*'], ['/api', 'text/html'], ['/webhooks/unknown-provider', '*/*'], ['/nope', 'application/json']] as const) {
      const res = await app.inject({ method: 'POST', url, headers: { accept }, payload: {} });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toContain('application/json');
      expect(res.json()).toEqual({ error: 'not-found', message: `Nothing at POST ${url}.` });
    }
  });

  test('a malformed API body is a JSON 400; a form too large for a page is a branded page', async () => {
    const api = await app.inject({ method: 'POST', url: '/api/subscribers', headers: { 'content-type': 'application/json' }, payload: '{"email": ' });
    expect(api.statusCode).toBe(400);
    expect(api.json()).toMatchObject({ error: 'bad-request' });
    const big = await app.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `email=${'a'.repeat(70 * 1024)}` });
    expect(big.statusCode).toBe(413);
    expect(big.headers['content-type']).toContain('text/html');
    expect(big.body).toContain('<h1>Too much to send</h1>');
  });

  test('each request is logged at debug by its route pattern, never its raw URL (tokens live in URLs)', async () => {
    logs.lines.length = 0;
    await app.inject({ url: '/archive/national/2026-11-24?token=secret-token-123' });
    await app.inject({ url: '/unsubscribe/secret-token-456' });
    const requests = logs.lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ level: 20, component: 'web', method: 'GET', route: '/archive/:newsletter/:date', statusCode: 404 });
    expect(typeof requests[0]?.reqId).toBe('string');
    expect(JSON.stringify(logs.lines)).not.toContain('secret-token');
  });
});

describe('an unexpected failure on a reader page', () => {
  let runtime: Runtime;
  let app: FastifyInstance;
  const logs = capture();

  beforeAll(async () => {
    // Redis refuses connections: every page that reads it fails in a way no route expects.
    const config = testConfig(uniquePrefix('error-pages-500'), { redisUrl: `redis://127.0.0.1:${await closedPort()}` });
    const redis = createRedis(config.redisUrl, { retryStrategy: () => null });
    redis.on('error', () => undefined);
    runtime = new Runtime(config, { logger: createLogger({ level: 'info', destination: logs.stream, pretty: false }), redis });
    // The edition queue shares the dead connection; its errors are this test's premise, not news.
    runtime.queues.editions.on('error', () => undefined);
    app = await buildWebServer(runtime);
  });
  afterAll(async () => {
    await app.close();
    await runtime.queues.close();
    await runtime.transport.close();
    runtime.redis.disconnect();
  });

  test('is a branded 500 page with a reference, and the error is logged at error with that request id', async () => {
    const res = await app.inject({ url: '/archive' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<header class="masthead"><p>Daybreak Business News</p></header>');
    expect(res.body).toContain('<h1>Something went wrong</h1>');
    expect(res.body).toContain('<a href="/archive">');
    expect(res.body).not.toMatch(/Connection is closed|at .*\.ts:\d+|stack/i);
    const reference = /<code>([0-9a-f]{12})<\/code>/.exec(res.body)?.[1];
    expect(reference).toBeDefined();
    const line = logs.lines.find((l) => l.msg === 'request failed');
    expect(line).toMatchObject({ level: 50, component: 'web', reqId: reference, method: 'GET', route: '/archive', statusCode: 500 });
    expect((line?.err as { message?: string } | undefined)?.message).toBeTruthy();
  });

  test('asked for JSON, the same failure is a JSON 500 with the request id and no internals', async () => {
    const res = await app.inject({ url: '/archive', headers: { accept: 'application/json' } });
    expect(res.statusCode).toBe(500);
    const body = res.json() as { error: string; message: string; requestId: string };
    expect(body).toEqual({ error: 'internal', message: 'Something went wrong on our side; try again later.', requestId: expect.stringMatching(/^[0-9a-f]{12}$/) });
  });
});
