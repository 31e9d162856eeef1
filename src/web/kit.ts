/** What every reader-facing route shares: rendering a page, rate limits, and the form's protections. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { page } from './page';
import { ipSubject, RateLimiter, type RateRule } from './rate-limit';
import { applyPageHeaders, clientIp } from './security';
import { tooManyView, type View } from './views/subscriptions';
import type { WebDeps } from './deps';

/** What the subscriber routes share: the page renderer, the limiter and the common 429/400 answers. */
export interface PageKit {
  deps: WebDeps;
  limiter: RateLimiter;
  render(reply: FastifyReply, view: View, status?: number): FastifyReply;
  /** Counts one page or form request from this IP; answers 429 itself and returns false when over. */
  allowPage(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** Counts a request for `scope`; answers 429 itself and returns false when over. */
  allow(request: FastifyRequest, reply: FastifyReply, scope: string, subject: string, rule: RateRule, kind: 'ip' | 'email'): Promise<boolean>;
  /** A bad or tampered token: counted per IP (guessing is pointless, but hammering is answered 429). */
  badToken(request: FastifyRequest, reply: FastifyReply, view: View): Promise<FastifyReply>;
  ip(request: FastifyRequest): string;
}

export function createPageKit(deps: WebDeps): PageKit {
  const limiter = new RateLimiter(deps.redis, deps.keys);
  const org = deps.config.organisation;
  const rules = deps.config.web.rateLimits;
  const render = (reply: FastifyReply, view: View, status = 200) =>
    applyPageHeaders(reply, { scriptNonce: view.scriptNonce }).code(status).type('text/html; charset=utf-8').send(page(view.title, view.body, org.name, { postalAddress: org.postalAddress, titlePrefix: view.hasErrors ? 'Error: ' : '' }));
  const tooMany = (reply: FastifyReply, retryAfterSeconds: number, scope: 'ip' | 'email') =>
    render(reply.header('retry-after', String(retryAfterSeconds)), tooManyView({ retryAfterSeconds, scope }), 429);
  const kit: PageKit = {
    deps,
    limiter,
    render,
    ip: clientIp,
    async allow(request, reply, scope, subject, rule, kind) {
      const decision = await limiter.hit(scope, subject, rule);
      if (decision.allowed) return true;
      deps.logger.warn({ scope, ip: clientIp(request), count: decision.count, limit: decision.limit }, 'rate limit reached');
      tooMany(reply, decision.retryAfterSeconds, kind);
      return false;
    },
    allowPage(request, reply) {
      return kit.allow(request, reply, 'pages', ipSubject(clientIp(request)), rules.pagesPerIp, 'ip');
    },
    async badToken(request, reply, view) {
      const decision = await limiter.hit('bad-token', ipSubject(clientIp(request)), rules.badTokenPerIp);
      if (!decision.allowed) return tooMany(reply, decision.retryAfterSeconds, 'ip');
      return render(reply, view, 400);
    },
  };
  return kit;
}
