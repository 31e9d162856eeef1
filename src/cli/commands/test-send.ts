import type { Command } from 'commander';
import { testSend } from '../../delivery/test-send';
import { emailSchema } from '../../subscribers/email';
import { CliError, withRuntime, type GlobalOptions } from '../context';
import { resolveLocalDate } from './run-edition';
import { asCliErrors } from './status';

export function registerTestSend(program: Command, globals: () => GlobalOptions): void {
  program
    .command('test-send')
    .description("render a day's edition and send one copy, subject marked [TEST], to any address; records nothing")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .requiredOption('--to <email>', 'the address to send the test to')
    .option('--date <YYYY-MM-DD>', "the edition's date in the newsletter's time zone (default: today)")
    .addHelpText('after', `
If that day's edition has been built, the copy is exactly what readers got (its stored content);
otherwise the articles are picked and rendered now, as a build would. No edition, ledger,
counter or sent-article list is touched, and bounces of a test copy count against nobody.`)
    .action(async (newsletterId: string, opts: { to: string; date?: string }) => {
      const to = emailSchema.safeParse(opts.to);
      if (!to.success) throw new CliError(`--to "${opts.to}" ${to.error.issues[0]?.message ?? 'is not a valid address'}`, 2);
      await withRuntime({ ...globals(), logLevel: process.env.LOG_LEVEL ?? 'warn' }, (runtime) =>
        asCliErrors(async () => {
          runtime.newsletter(newsletterId);
          const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
          const result = await testSend(runtime, { newsletterId, localDate, to: to.data });
          console.log(`Test copy of ${result.editionId} sent to ${result.to}`);
          console.log(`Subject:   ${result.subject}`);
          console.log(`Content:   ${result.source === 'stored' ? 'the edition as sent to readers' : 'built now (this day has no stored edition yet)'}, ${result.articles} article(s), ${Math.round(result.bytes / 1024)} KB`);
          console.log(`Via:       ${result.transport} (${result.response})`);
          console.log('Nothing was recorded: no edition, ledger or counter changed.');
        }),
      );
    });
}
