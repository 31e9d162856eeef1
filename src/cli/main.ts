import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load';
import { CliError, type GlobalOptions } from './context';
import { registerBounces } from './commands/bounces';
import { registerControl } from './commands/control';
import { registerDemo } from './commands/demo';
import { registerEditions } from './commands/editions';
import { registerFeed } from './commands/feed';
import { registerPreview } from './commands/preview';
import { registerProcesses } from './commands/processes';
import { registerResend } from './commands/resend';
import { registerRunEdition } from './commands/run-edition';
import { registerStatus } from './commands/status';
import { registerSubscribers } from './commands/subscribers';
import { registerTestSend } from './commands/test-send';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('daybreak')
    .description('Daybreak: the morning newsletter pipeline (feed -> MJML -> BullMQ -> SMTP)')
    .option('-c, --config <file>', 'config file (default: DAYBREAK_CONFIG or config/daybreak.json)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  registerDemo(program, globals);
  registerProcesses(program, globals);
  registerRunEdition(program, globals);
  registerPreview(program, globals);
  registerSubscribers(program, globals);
  registerEditions(program, globals);
  registerStatus(program, globals);
  registerResend(program, globals);
  registerControl(program, globals);
  registerTestSend(program, globals);
  registerBounces(program, globals);
  registerFeed(program, globals);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliError) {
      process.stderr.write(`daybreak: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`daybreak: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`daybreak: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

if (require.main === module || process.argv[1]?.endsWith('daybreak.js')) {
  main(process.argv).then((code) => {
    // Open handles (pino transports, pools) must not keep a finished command alive.
    process.exit(code);
  });
}
