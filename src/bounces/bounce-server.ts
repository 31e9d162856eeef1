/** The DSN mailbox: an SMTP listener for the bounce domain that parses in a worker thread and applies what it reads. */
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { processInbound, type InboundDeps } from './inbound';
import { parseUnsubscribeAddress, verpSettings } from '../mail/verp';
import { BounceParserThread } from './parse-worker';
import type { SubscriberStore } from '../subscribers/store';

export interface BounceServerDeps extends InboundDeps {
  subscribers: InboundDeps['subscribers'] & Pick<SubscriberStore, 'unsubscribe'>;
}

/** Unsubscribes a reader who mailed their List-Unsubscribe address: from everything, at once. */
async function unsubscribeByMail(deps: BounceServerDeps, subscriberId: string): Promise<void> {
  const subscriber = await deps.subscribers.get(subscriberId);
  if (!subscriber || subscriber.status === 'unsubscribed') return;
  await deps.subscribers.unsubscribe(subscriberId, { reason: 'mailto unsubscribe (List-Unsubscribe)', now: deps.clock.now() });
  deps.logger.info({ subscriberId }, 'unsubscribed by mail');
}

export interface BounceServer {
  port: number;
  host: string;
  close(): Promise<void>;
}

class SmtpReplyError extends Error {
  constructor(message: string, readonly responseCode: number) {
    super(message);
  }
}

/**
 * The DSN mailbox: an SMTP listener that takes mail for the bounce domain only (VERP addresses,
 * and FBL addresses there too) and refuses everything else, so it is never an open relay. A
 * message is answered 250 only once it is applied (or kept as unreadable): if Redis is down the
 * sender gets a 451 and tries again later, so no bounce is lost.
 */
export async function startBounceServer(deps: BounceServerDeps, options: { port?: number; host?: string } = {}): Promise<BounceServer> {
  const domain = deps.config.delivery.bounceDomain?.toLowerCase();
  if (!domain) throw new Error('delivery.bounceDomain is not set: the bounce server takes mail for that domain only (see docs/bounces.md)');
  const settings = deps.config.bounces.server;
  const log = deps.logger.child({ part: 'bounce-server' });
  const verp = verpSettings(deps.config);
  // Parsing runs in a worker thread with a hard time budget: a hostile 5 MB message never stalls
  // the greetings and replies of other connections, and one that runs too long is stopped and kept.
  const parser = new BounceParserThread({ maxMessageBytes: settings.maxMessageBytes, timeBudgetMs: settings.parseTimeBudgetMs });
  parser.warm();
  const server = new SMTPServer({
    name: domain,
    banner: 'Daybreak bounce processor',
    // Bounces come from any MTA on the internet; there is nothing to authenticate and no relaying.
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: settings.maxMessageBytes,
    logger: false,
    // The client's hostname is never used: no reverse DNS lookup (up to 1.5 s) before each greeting.
    disableReverseLookup: true,
    onRcptTo(address, _session, callback) {
      const rcpt = address.address.toLowerCase();
      if (!rcpt.endsWith(`@${domain}`)) return callback(new SmtpReplyError(`5.7.1 <${address.address}>: relay access denied; this server only takes mail for ${domain}`, 550));
      if (verp) {
        const unsubscribe = parseUnsubscribeAddress(verp, rcpt);
        if (!unsubscribe.ok && unsubscribe.reason !== 'not-unsubscribe') return callback(new SmtpReplyError(`5.1.1 <${address.address}>: no such unsubscribe address`, 550));
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let received = 0;
      stream.on('data', (c: Buffer) => {
        // Past the limit the message is refused anyway: keep reading it, not holding it.
        received += c.length;
        if (received <= settings.maxMessageBytes) chunks.push(c);
      });
      stream.on('end', () => {
        if (stream.sizeExceeded || received > settings.maxMessageBytes) return callback(new SmtpReplyError(`5.3.4 message too big for the bounce processor (limit ${settings.maxMessageBytes} bytes)`, 552));
        const raw = Buffer.concat(chunks);
        const envelope = { mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
        // Mail to a reader's List-Unsubscribe mailto (RFC 2369): the address itself is the request.
        const unsubscribes = verp ? envelope.rcptTo.map((r) => parseUnsubscribeAddress(verp, r)).filter((c) => c.ok) : [];
        if (unsubscribes.length > 0) {
          Promise.all(unsubscribes.map((c) => unsubscribeByMail(deps, (c as { subscriberId: string }).subscriberId))).then(
            () => callback(null, '2.0.0 unsubscribed'),
            (error: unknown) => {
              log.error({ err: error }, 'unsubscribe mailbox: could not apply; the sender will retry');
              callback(new SmtpReplyError('4.3.0 temporary failure, try again later', 451));
            },
          );
          return;
        }
        processInbound(deps, raw, envelope, { parse: (message, options) => parser.parse(message, options) }).then(
          (result) => {
            log.info({ rcptTo: envelope.rcptTo, kind: result.report.kind, format: result.report.format, attribution: result.attribution, recorded: result.outcomes.filter((o) => !o.duplicate && !o.ignored).length, kept: result.kept }, 'bounce mailbox: message handled');
            const applied = result.outcomes.filter((o) => !o.duplicate && !o.ignored).length;
            const said = result.kept ? 'kept for review'
              : !result.report.isBounce ? `noted: ${result.report.kind}, not a bounce`
                : applied ? `${result.report.kind === 'complaint' ? 'complaint' : 'bounce'} recorded`
                  : result.outcomes.some((o) => o.duplicate) ? 'already recorded' : 'noted: not tied to any copy we sent';
            callback(null, `2.0.0 ${said}`);
          },
          (error: unknown) => {
            log.error({ err: error, rcptTo: envelope.rcptTo }, 'bounce mailbox: could not handle a message; the sender will retry');
            callback(new SmtpReplyError('4.3.0 temporary failure processing the report, try again later', 451));
          },
        );
      });
    },
  });
  server.on('error', (err) => log.error({ err }, 'bounce server error'));
  const host = options.host ?? settings.host;
  const port = options.port ?? settings.port;
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      void parser.close();
      reject(error);
    };
    server.server.once('error', failed);
    server.listen(port, host, () => {
      server.server.off('error', failed);
      resolve();
    });
  });
  const bound = (server.server.address() as { port: number }).port;
  log.info({ host, port: bound, domain }, 'bounce server listening');
  return {
    port: bound,
    host,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await parser.close();
    },
  };
}
