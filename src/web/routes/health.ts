/** /healthz: Redis and the mail transport answer (details behind the ops token when one is set). */
import type { FastifyInstance } from 'fastify';
import { askForToken, checkOpsAuth, metricsToken } from './metrics';
import type { WebDeps } from '../deps';

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

/** Resolves with the check's outcome; a check that hangs (Redis reconnecting, SMTP silent) fails at the timeout. */
async function timed(check: () => Promise<unknown>, timeoutMs: number, what: string): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message || String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz`: Redis and the mail transport (SMTP, or the outbox folder) are reachable. 200 when
 * both are, 503 otherwise, JSON either way. The SMTP check opens a connection, so its result is
 * kept for a few seconds: a load balancer probing every second does not open one a second.
 * With DAYBREAK_METRICS_TOKEN set, a request without `Authorization: Bearer <token>` gets the
 * same status with `{"status": ...}` only (the container healthcheck needs no more), and the
 * details (timings, errors, the SMTP host) need the token.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: WebDeps, options: { redisTimeoutMs?: number; smtpTimeoutMs?: number; smtpCacheMs?: number; env?: NodeJS.ProcessEnv } = {}): void {
  const redisTimeoutMs = options.redisTimeoutMs ?? 1500;
  // Under the image's 5 s HEALTHCHECK timeout, so a silent SMTP server still gets a JSON answer.
  const smtpTimeoutMs = options.smtpTimeoutMs ?? 3000;
  const smtpCacheMs = options.smtpCacheMs ?? 10_000;
  let smtpCache: { at: number; result: Promise<CheckResult> } | undefined;
  const smtpCheck = (): Promise<CheckResult> => {
    if (!smtpCache || Date.now() - smtpCache.at > smtpCacheMs) {
      smtpCache = { at: Date.now(), result: timed(() => deps.transport.verify(), smtpTimeoutMs, deps.transport.description) };
    }
    return smtpCache.result;
  };

  const token = metricsToken(options.env);
  app.get('/healthz', async (request, reply) => {
    const auth = checkOpsAuth(request, token);
    if (auth === 'wrong') {
      deps.logger.warn({ ip: request.ip, path: '/healthz' }, 'ops endpoint: wrong bearer token');
      return askForToken(reply);
    }
    const [redis, smtp] = await Promise.all([timed(() => deps.redis.ping(), redisTimeoutMs, 'Redis'), smtpCheck()]);
    const healthy = redis.ok && smtp.ok;
    const status = healthy ? 'ok' : 'unhealthy';
    reply.code(healthy ? 200 : 503).header('cache-control', 'no-store');
    if (auth === 'missing') return reply.send({ status });
    return reply.send({ status, redis, smtp: { ...smtp, transport: deps.transport.description } });
  });
}
