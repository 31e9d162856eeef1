import type { Command } from 'commander';
import { emailSchema, subscriberNameSchema } from '../../subscribers/email';
import { SubscriberError } from '../../subscribers/store';
import { CliError, withRuntime, type GlobalOptions } from '../context';
import { registerSubscriberDataCommands } from './subscriber-data';

/** `daybreak subscribers …`: the group other modules add their subcommands to. */
export function registerSubscribers(program: Command, globals: () => GlobalOptions): Command {
  const group = program.command('subscribers').description('manage subscribers');
  group
    .command('add')
    .description('add a confirmed subscriber (ops adding a known reader)')
    .argument('<email>', 'their address')
    .option('--name <name>', 'their name, used in the greeting')
    .option('--newsletter <id...>', 'newsletter id(s) (default: national)')
    .action(async (rawEmail: string, opts: { name?: string; newsletter?: string[] }) => {
      const email = emailSchema.safeParse(rawEmail);
      if (!email.success) throw new CliError(`"${rawEmail}" ${email.error.issues[0]?.message ?? 'is not a valid address'}`, 2);
      const name = opts.name === undefined ? undefined : subscriberNameSchema.safeParse(opts.name);
      if (name && !name.success) throw new CliError(`--name ${name.error.issues[0]?.message}`, 2);
      await withRuntime({ ...globals(), logLevel: 'warn' }, async (runtime) => {
        const newsletters = opts.newsletter ?? ['national'];
        for (const n of newsletters) runtime.newsletter(n);
        try {
          const { subscriber, created } = await runtime.subscribers.add({ email: email.data, name: name?.data, newsletters, confirmed: true, source: 'cli' });
          console.log(`${created ? 'Added' : 'Updated'} subscriber ${subscriber.id} <${subscriber.email}>: ${subscriber.status}, newsletters ${subscriber.newsletters.join(', ')}`);
        } catch (error) {
          if (error instanceof SubscriberError) throw new CliError(error.message, 1);
          throw error;
        }
      });
    });
  registerSubscriberDataCommands(group, globals);
  return group;
}
