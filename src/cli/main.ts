/** The command line's entry: parse, run one command, map any error to one line and an exit status. */
import { CommanderError } from 'commander';
import { codeOf, errorCodes, isDaybreakError } from '../core/errors';
import { buildProgram } from './program';

/** What a person sees for a failure: the message for expected errors; a stack only when asked for. */
export function describeFailure(error: unknown, verbose: boolean): { line: string; exitStatus: number } {
  const code = codeOf(error);
  const exitStatus = errorCodes[code].exit;
  if (isDaybreakError(error)) return { line: error.message, exitStatus };
  const message = (error as { message?: unknown } | null)?.message;
  if (code === 'redis-unreachable') {
    return { line: `Redis stopped answering (${String(message ?? error)}). Check that it is running (REDIS_URL), then run the command again.`, exitStatus };
  }
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (verbose && typeof stack === 'string') return { line: stack, exitStatus };
  return { line: `unexpected error: ${String(message ?? error)} (run again with --verbose or DEBUG=1 for the stack trace)`, exitStatus };
}

/** Parses and runs; resolves to the exit status. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const verbose = Boolean(program.opts<{ verbose?: boolean }>().verbose) || /^(1|true|daybreak|\*)$/.test(process.env.DEBUG ?? '');
    const { line, exitStatus } = describeFailure(error, verbose);
    process.stderr.write(`daybreak: ${line}\n`);
    return exitStatus;
  }
}

/** Waits until everything written to a stream has been handed to the OS (a pipe may lag behind). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

/**
 * What bin/daybreak.js calls: runs the command, then exits once stdout and stderr are flushed
 * (`daybreak resend --dry-run | less` must get every line), even if pools or transports still
 * hold the event loop open.
 */
export async function run(argv: string[] = process.argv): Promise<never> {
  // The reader went away (`daybreak … | head`): stop quietly, as other command-line tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  const code = await main(argv);
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}
