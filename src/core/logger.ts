/** Logging: JSON for machines, pretty on a terminal, subscriber addresses masked at info and above. */
import pino, { type DestinationStream, type Logger } from 'pino';
import { maskEmailsDeep, maskEmailsInText } from './mask';

export type { Logger } from 'pino';

/** pino's numeric level for `info`: lines at this level and above never carry a full address. */
const INFO = 30;

/**
 * JSON logs for machines; pretty ones when a person is watching a terminal. Subscriber addresses
 * are masked (`j***@example.com`) on info, warn and error lines, in any field and inside messages
 * (SMTP diagnostics quote the recipient); debug and trace lines keep them for troubleshooting.
 */
export function createLogger(options: { level?: string; pretty?: boolean; name?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY && process.env.NODE_ENV !== 'production');
  const pinoOptions: pino.LoggerOptions = {
    name: options.name ?? 'daybreak',
    level,
    base: { pid: process.pid },
    // Lines at info and above arrive with errors already made plain (and masked) by maskEmailsDeep:
    // kept as they are, so their type stays the error's own; debug lines get pino's serializer.
    serializers: { err: (err: unknown) => (err instanceof Error ? pino.stdSerializers.err(err) : err) },
    hooks: {
      logMethod(args, method, lineLevel) {
        if (lineLevel < INFO) return method.apply(this, args);
        const masked = args.map((a) => (typeof a === 'string' ? maskEmailsInText(a) : maskEmailsDeep(a)));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
    transport: pretty && !options.destination ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' } } : undefined,
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

/** For tests and quiet commands. */
export const silentLogger: Logger = pino({ level: 'silent' });
