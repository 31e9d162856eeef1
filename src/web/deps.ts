/** What the web server and its routes use, declared by the web layer (the composition root provides it). */
import type Redis from 'ioredis';
import type { LoadedConfig } from '../config/load';
import type { Keys } from '../core/keys';
import type { ApprovalDeps } from '../delivery/approval';
import type { EditionStore } from '../delivery/edition-store';
import type { MailTransport } from '../mail/transports';
import type { ClickDeps } from '../ops/clicks';
import type { MetricsDeps } from '../ops/metrics';
import type { ReportDeps } from '../ops/report';
import type { SignupDeps } from '../subscribers/signup';
import type { SubscriberStore } from '../subscribers/store';
import type { WelcomeDeps } from '../subscribers/welcome';
import type { WebhookRouteDeps } from './routes/webhooks';

export type WebDeps = SignupDeps & MetricsDeps & WebhookRouteDeps & ClickDeps & ReportDeps & ApprovalDeps & WelcomeDeps & {
  subscribers: Pick<SubscriberStore, 'confirmSignup' | 'get' | 'hashOf' | 'isSuppressed' | 'pendingSignup' | 'unsubscribe' | 'updatePreferences'> & WelcomeDeps['subscribers'];
  editions: Pick<EditionStore, 'content' | 'get' | 'list' | 'countUnsubscribe'> & ClickDeps['editions'] & ApprovalDeps['editions'];
  clicks: ClickDeps['clicks'] & ReportDeps['clicks'];
  transport: Pick<MailTransport, 'verify' | 'description'>;
  /** The health check pings it; the rate limiter (rate-limit.ts, owner of the `rl:` keys) counts in it. */
  redis: Redis;
  keys: Keys;
  config: Pick<LoadedConfig, 'port' | 'web' | 'organisation' | 'publicUrl' | 'newsletters' | 'secret'> & ApprovalDeps['config'];
};
