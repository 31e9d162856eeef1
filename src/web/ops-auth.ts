/** Who may see the ops pages: the same bearer token as /metrics, or the queue dashboard's basic-auth credentials (for a browser). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { adminCredentials, sameSecret } from './routes/admin-queues';
import { checkOpsAuth, METRICS_TOKEN_ENV, metricsToken } from './routes/metrics';

export type OpsPageAccess = 'open' | 'ok' | 'missing' | 'wrong';

/**
 * The ops pages (edition reports) hold no personal data, only an edition's aggregate figures, and
 * follow /metrics: open when nothing is configured; otherwise `Authorization: Bearer
 * <DAYBREAK_METRICS_TOKEN>` (scripts, curl) or basic auth with DAYBREAK_ADMIN_USER and
 * DAYBREAK_ADMIN_PASSWORD (a browser asks for them). Compared in constant time.
 */
export function checkOpsPageAccess(request: FastifyRequest, env: NodeJS.ProcessEnv): OpsPageAccess {
  const token = metricsToken(env);
  const admin = adminCredentials(env);
  if (!token && !admin) return 'open';
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return 'missing';
  if (/^Bearer\s/i.test(header)) return token ? (checkOpsAuth(request, token) === 'ok' ? 'ok' : 'wrong') : 'wrong';
  const basic = /^Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header.length <= 1100 ? header : '');
  if (!basic || !admin) return 'wrong';
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const password = colon === -1 ? '' : decoded.slice(colon + 1);
  // Both compared every time, so timing does not tell which one was wrong.
  const userOk = sameSecret(user, admin.user);
  const passwordOk = sameSecret(password, admin.password);
  return userOk && passwordOk ? 'ok' : 'wrong';
}

/** 401 with the challenges that apply: basic (a browser asks) when admin credentials are set, bearer when the ops token is. */
export function askForOpsCredentials(reply: FastifyReply, env: NodeJS.ProcessEnv): FastifyReply {
  const challenges = [adminCredentials(env) ? 'Basic realm="Daybreak ops", charset="UTF-8"' : undefined, metricsToken(env) ? 'Bearer realm="daybreak-ops"' : undefined].filter((c): c is string => c !== undefined);
  return reply
    .code(401)
    .header('www-authenticate', challenges)
    .header('cache-control', 'no-store')
    .type('text/plain; charset=utf-8')
    .send(`Authentication required: your DAYBREAK_ADMIN_USER and DAYBREAK_ADMIN_PASSWORD, or "Authorization: Bearer <token>" with the token in ${METRICS_TOKEN_ENV}.\n`);
}
