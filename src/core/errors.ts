/** The one error model: every failure a person can cause or act on carries a code from this table. */

/**
 * Each code says what the command line exits with and what HTTP answers. The CLI, the web server
 * and the workers map errors by code, never by class or message.
 *
 * Exit statuses (documented in the README): 1 the operation ran and failed or was refused,
 * 2 bad input or config (fix what you typed, the file or the config), 3 Redis unreachable,
 * 4 the edition is held (`--force` sends it).
 */
export const errorCodes = {
  /** An argument, option, file or request body is not valid. */
  'bad-input': { exit: 2, http: 400 },
  /** The configuration file or environment is not valid. */
  'config-invalid': { exit: 2, http: 500 },
  /** A newsletter id that the configuration does not have. */
  'unknown-newsletter': { exit: 2, http: 404 },
  /** A path that cannot be read or written (a missing folder, no permission). */
  'path-unusable': { exit: 2, http: 500 },
  /** A newsletter's feed could not be fetched or read. */
  'feed-unreadable': { exit: 2, http: 502 },
  /** An edition, subscriber or suppression that does not exist. */
  'not-found': { exit: 1, http: 404 },
  /** The thing exists but is in a state where this cannot be done (pause a finished edition). */
  conflict: { exit: 1, http: 409 },
  /** Refused on purpose: a suppressed or unsubscribed address, a cancelled edition. */
  refused: { exit: 1, http: 403 },
  /** An edition ended failed (its build failed, or sends failed for good). */
  'edition-failed': { exit: 1, http: 500 },
  /** An edition is held as too late for its send window. */
  'edition-held': { exit: 4, http: 409 },
  /** Redis does not answer. */
  'redis-unreachable': { exit: 3, http: 503 },
  /** The mail relay does not answer or refuses us (not the reader's fault). */
  'transport-unavailable': { exit: 1, http: 503 },
  /** Anything unexpected: a bug. Only these print a stack (with --verbose or DEBUG). */
  internal: { exit: 1, http: 500 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorCode = keyof typeof errorCodes;

/** Which reader, which edition, which newsletter, which file: whatever helps the person fix it. */
export type ErrorContext = Record<string, string | number | boolean | undefined>;

/** Base of every expected error: a message meant for a person, a code, and the context. */
export class DaybreakError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DaybreakError';
    this.code = code;
    this.context = options.context ?? {};
  }

  get exitStatus(): number {
    return errorCodes[this.code].exit;
  }

  get httpStatus(): number {
    return errorCodes[this.code].http;
  }
}

/** Duck-typed, so an error from another realm (a sandboxed child, jest's VM) still maps by code. */
export function isDaybreakError(error: unknown): error is DaybreakError {
  const e = error as { code?: unknown; context?: unknown } | null;
  return error instanceof DaybreakError || (e !== null && typeof e === 'object' && typeof e.code === 'string' && e.code in errorCodes && typeof e.context === 'object');
}

/** The code of any thrown value: a DaybreakError's own, a Redis connection failure's, else internal. */
export function codeOf(error: unknown): ErrorCode {
  if (isDaybreakError(error)) return error.code;
  if (isRedisConnectionError(error)) return 'redis-unreachable';
  return 'internal';
}

const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** ioredis reports a lost server with the socket's code, or "Connection is closed." after QUIT/failover. */
export function isRedisConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && connectionCodes.has(e.code)) return true;
  return e.name === 'MaxRetriesPerRequestError' || (typeof e.message === 'string' && /^Connection is closed\.?$|Stream isn't writeable/.test(e.message));
}

/** A newsletter id nobody configured: the same words from every command and page. */
export function unknownNewsletter(id: string, configured: string[]): DaybreakError {
  return new DaybreakError('unknown-newsletter', `Unknown newsletter "${id}"; configured: ${configured.join(', ')}`, { context: { newsletter: id } });
}
