/** `/metrics`: Prometheus text, computed at scrape time for the whole install (see ops/metrics.ts); and the ops token that guards it. */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createMetricsRegistry } from '../../ops/metrics';
import type { WebDeps } from '../deps';

/** The environment variable that, when set, puts `/metrics` and `/healthz`'s details behind a bearer token. */
export const METRICS_TOKEN_ENV = 'DAYBREAK_METRICS_TOKEN';

/** The ops token from the environment, or undefined when `/metrics` and `/healthz` are open. */
export function metricsToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[METRICS_TOKEN_ENV]?.trim();
  return token ? token : undefined;
}

export type OpsAuth = 'open' | 'ok' | 'missing' | 'wrong';

/**
 * Does this request carry the ops token? `open` when no token is configured. Compared in constant
 * time (both sides hashed first, so the length does not leak either).
 */
export function checkOpsAuth(request: FastifyRequest, token: string | undefined): OpsAuth {
  if (!token) return 'open';
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return 'missing';
  const match = /^Bearer[ \t]+([^\s]{1,512})[ \t]*$/i.exec(header.length <= 600 ? header : '');
  if (!match) return 'wrong';
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(match[1] as string), digest(token)) ? 'ok' : 'wrong';
}

/** 401 with the challenge a Prometheus scrape config or curl understands. */
export function askForToken(reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="daybreak-ops"')
    .header('cache-control', 'no-store')
    .type('text/plain; charset=utf-8')
    .send(`Authentication required: send "Authorization: Bearer <token>" with the token in ${METRICS_TOKEN_ENV}.\n`);
}

export function registerMetricsRoutes(app: FastifyInstance, deps: WebDeps, env: NodeJS.ProcessEnv = process.env): void {
  const registry = createMetricsRegistry(deps);
  const token = metricsToken(env);
  app.get('/metrics', async (request, reply) => {
    const auth = checkOpsAuth(request, token);
    if (auth === 'missing' || auth === 'wrong') {
      if (auth === 'wrong') deps.logger.warn({ ip: request.ip, path: '/metrics' }, 'ops endpoint: wrong bearer token');
      return askForToken(reply);
    }
    try {
      const text = await registry.metrics();
      return reply.type(registry.contentType).header('cache-control', 'no-store').send(text);
    } catch (error) {
      deps.logger.error({ err: error }, 'metrics scrape failed');
      return reply.code(503).type('text/plain').send(`# metrics unavailable: ${(error as Error).message}\n`);
    }
  });
}
