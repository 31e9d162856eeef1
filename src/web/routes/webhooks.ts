/** ESP webhooks: one route, POST /webhooks/:provider, in front of the providers' one interface (verify, then parse). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebhooksConfig } from '../../config/bounces-schema';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import type { BounceStore } from '../../bounces/bounce-store';
import type { BouncePolicy } from '../../bounces/policy';
import { configuredProviders, type WebhookProviderDeps } from '../../bounces/webhooks/providers';
import { recordProviderEvents } from '../../bounces/webhooks/record';

export interface WebhookRouteDeps {
  bouncePolicy: Pick<BouncePolicy, 'record'>;
  bounces: Pick<BounceStore, 'claimToken'>;
  clock: Clock;
  logger: Logger;
  config: { webhooks: WebhooksConfig };
}

export interface WebhookRouteOptions {
  deps: WebhookRouteDeps;
  sns?: WebhookProviderDeps['sns'];
}

/** Webhook batches (SendGrid sends up to thousands of events per POST) are bigger than form posts. */
const webhookBodyLimit = 5 * 1024 * 1024;

/**
 * Nothing changes unless the payload is authentic (401 otherwise), well formed (400 otherwise)
 * and fresh (401 otherwise); a repeat counts once; a provider that is not configured is 404. A
 * check never ends in a 500: the one 5xx is 503 when an SNS certificate cannot be fetched just now
 * (or a confirmation not made), so SNS retries a message that may be genuine. Registered as an
 * encapsulated plugin: its raw-body parser (signatures are over the exact bytes) never touches the
 * other routes.
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { deps } = options;
  const log = deps.logger.child({ part: 'webhooks' });
  const providers = configuredProviders(deps.config.webhooks, { bounces: deps.bounces, logger: log, sns: options.sns });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_request, body, done) => done(null, body));

  app.post<{ Params: { provider: string } }>('/webhooks/:provider', async (request: FastifyRequest<{ Params: { provider: string } }>, reply: FastifyReply) => {
    const provider = providers.get(request.params.provider);
    // Not configured: the same 404 as any unknown path (JSON under /webhooks).
    if (!provider) return reply.callNotFound();
    const now = deps.clock.now();
    const verdict = await provider.verify({
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      header: (name) => {
        const v = request.headers[name.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      },
    }, now);
    if (verdict.outcome === 'refused') {
      log.warn({ provider: provider.name, status: verdict.status, reason: verdict.reason }, 'webhook refused');
      for (const [name, value] of Object.entries(verdict.headers ?? {})) reply.header(name, value);
      return reply.code(verdict.status).send({ ok: false, error: verdict.reason });
    }
    if (verdict.outcome === 'answered') return reply.code(200).send(verdict.body);
    const events = provider.parse(verdict.payload, now);
    const summary = await recordProviderEvents(deps.bouncePolicy, events);
    log.info({ provider: provider.name, events: events.length, recorded: summary.recorded, duplicates: summary.duplicates }, 'webhook applied');
    return reply.code(200).send({ ok: true, events: events.length, recorded: summary.recorded, duplicates: summary.duplicates });
  });
}
