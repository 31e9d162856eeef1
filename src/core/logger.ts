import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON logs for machines; pretty ones when a person is watching a terminal. */
export function createLogger(options: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY && process.env.NODE_ENV !== 'production');
  return pino({
    name: options.name ?? 'daybreak',
    level,
    base: { pid: process.pid },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,name' } } : undefined,
  });
}

/** For tests and quiet commands. */
export const silentLogger: Logger = pino({ level: 'silent' });
