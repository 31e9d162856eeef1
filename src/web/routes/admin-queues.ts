/** Bull Board at /admin/queues, behind basic auth, off when no credentials are set. */
import crypto from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/dist/types';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebDeps } from '../deps';

export const ADMIN_BASE_PATH = '/admin/queues';

/** Constant-time comparison of two strings of any length (hashes first, so lengths do not leak). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(h(a), h(b));
}

export function adminCredentials(env: NodeJS.ProcessEnv = process.env): { user: string; password: string } | undefined {
  const user = env.DAYBREAK_ADMIN_USER;
  const password = env.DAYBREAK_ADMIN_PASSWORD;
  return user && password ? { user, password } : undefined;
}

/**
 * Bull Board at /admin/queues, behind HTTP basic auth with DAYBREAK_ADMIN_USER and
 * DAYBREAK_ADMIN_PASSWORD. With either unset the dashboard is not mounted at all (404), so a
 * forgotten variable never exposes the queues. Retrying a job from the board is safe: every send
 * claims its reader in the edition's ledger first, so nobody is mailed twice.
 */
export async function registerAdminQueueRoutes(app: FastifyInstance, deps: WebDeps, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const credentials = adminCredentials(env);
  if (!credentials) {
    if (env.DAYBREAK_ADMIN_USER || env.DAYBREAK_ADMIN_PASSWORD) deps.logger.warn('queue dashboard off: set both DAYBREAK_ADMIN_USER and DAYBREAK_ADMIN_PASSWORD');
    return false;
  }
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(ADMIN_BASE_PATH);
  createBullBoard({
    queues: [deps.queues.editions, ...deps.config.newsletters.flatMap((n) => deps.queues.sendQueues(n.id))].map((q) => new BullMQAdapter(q)),
    // @bull-board/fastify pins its own copy of @bull-board/api (9.10.1 beside our 9.10.2): same interface, separate type declarations.
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'Daybreak queues' } },
  });
  const challenge = (reply: FastifyReply) => reply.code(401).header('www-authenticate', 'Basic realm="Daybreak queues", charset="UTF-8"').type('text/plain').send('Authentication required');
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization ?? '';
      const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
      if (!match) return challenge(reply);
      const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      const password = colon === -1 ? '' : decoded.slice(colon + 1);
      // Both compared every time, so timing does not tell which one was wrong.
      const userOk = sameSecret(user, credentials.user);
      const passwordOk = sameSecret(password, credentials.password);
      if (!userOk || !passwordOk) {
        deps.logger.warn({ ip: request.ip, path: request.url }, 'queue dashboard: wrong credentials');
        return challenge(reply);
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: ADMIN_BASE_PATH });
  });
  return true;
}
