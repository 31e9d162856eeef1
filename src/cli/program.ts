/** The command line's surface: every command, argument, option and help text, with no heavy imports. */
import { Command, Option } from 'commander';
import { DaybreakError } from '../core/errors';
import { registerFeed } from './commands/feed';
import type { GlobalOptions } from './context';

// Each command's code (and what it needs: BullMQ, MJML, fastify, mailparser...) is loaded when that
// command runs, so `daybreak --help` or `daybreak status` never pays for the others.
/* eslint-disable @typescript-eslint/no-require-imports */
const commands = {
  demo: () => require('./commands/demo') as typeof import('./commands/demo'),
  processes: () => require('./commands/processes') as typeof import('./commands/processes'),
  runEdition: () => require('./commands/run-edition') as typeof import('./commands/run-edition'),
  preview: () => require('./commands/preview') as typeof import('./commands/preview'),
  subscribers: () => require('./commands/subscribers') as typeof import('./commands/subscribers'),
  editions: () => require('./commands/editions') as typeof import('./commands/editions'),
  approval: () => require('./commands/approval') as typeof import('./commands/approval'),
  status: () => require('./commands/status') as typeof import('./commands/status'),
  report: () => require('./commands/report') as typeof import('./commands/report'),
  resend: () => require('./commands/resend') as typeof import('./commands/resend'),
  control: () => require('./commands/control') as typeof import('./commands/control'),
  testSend: () => require('./commands/test-send') as typeof import('./commands/test-send'),
  bounces: () => require('./commands/bounces') as typeof import('./commands/bounces'),
  migrate: () => require('./commands/migrate') as typeof import('./commands/migrate'),
};

/** Whole numbers from the command line, with a message naming the option. */
export function parsePositiveInt(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new DaybreakError('bad-input', `${name} must be a whole number of at least 1 (got "${value}")`);
    return Number(value);
  };
}

/** A number of days, 0 or more (fractions allowed), with a message naming the option. */
export function parseDays(name: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+(\.\d+)?$/.test(value)) throw new DaybreakError('bad-input', `${name} must be a number of days, 0 or more (got "${value}")`);
    return Number(value);
  };
}

const editionArg = ['<edition>', 'edition id, e.g. national-2026-11-24'] as const;
const dateOption = ['--date <YYYY-MM-DD>', "the edition's date in the newsletter's time zone (default: today)"] as const;

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('daybreak')
    .description('Daybreak: the morning newsletter pipeline (feed -> MJML -> BullMQ -> SMTP)')
    .option('-c, --config <file>', 'config file (default: DAYBREAK_CONFIG or config/daybreak.json)')
    .option('--verbose', 'on an unexpected error, print its stack trace (so does DEBUG=1)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', `
Exit status: 0 done; 1 the operation failed or was refused (see the message); 2 bad input or
config; 3 Redis unreachable; 4 the edition is held as too late (--force sends it).`);
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('demo')
    .description('run a full morning edition on built-in defaults: sample feed, seeded readers, local outbox')
    .action(() => commands.demo().demo(globals()));

  // Long-running processes.
  const concurrency = () => new Option('--concurrency <n>', 'sends in flight per newsletter').argParser(parsePositiveInt('--concurrency'));
  program
    .command('start')
    .description('run the scheduler, the workers and the web server in one process')
    .addOption(concurrency())
    .option('--no-scheduler', 'leave out the scheduler')
    .option('--no-workers', 'leave out the workers (run them with `daybreak worker`)')
    .option('--no-web', 'leave out the web server')
    .action((opts) => commands.processes().start(opts, globals()));
  program
    .command('scheduler')
    .description("queue each newsletter's edition on its cron schedule, in its own time zone")
    .action(() => commands.processes().scheduler(globals()));
  program
    .command('worker')
    .description('process edition and send jobs (run as many as you like)')
    .addOption(concurrency())
    .action((opts) => commands.processes().worker(opts, globals()));
  program
    .command('serve')
    .description('run the web server (sign-up, confirm, unsubscribe, preferences, archive, health, metrics)')
    .option('--port <port>', 'port (default: PORT or 3000)', parsePositiveInt('--port'))
    .action((opts) => commands.processes().serve(opts, globals()));

  // Editions.
  program
    .command('run-edition')
    .description("build and send a newsletter's edition for a day now, and wait until it is done")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .option(...dateOption)
    .option('--dry-run', 'show what would be picked and who would get it; send nothing, store nothing')
    .option('--force', 'send an edition that was held as too late for its send window')
    .addOption(new Option('--concurrency <n>', 'sends in flight when this command runs its own workers').argParser(parsePositiveInt('--concurrency')))
    .addHelpText('after', `
A past --date builds what that morning would have had: the stories published up to that day's
slot in the newsletter's time zone. Off a terminal (cron, CI), progress is printed as a line every
few seconds. Exit status 1 when any send failed (the output says how to resend them), 4 when the
edition is held as too late for its send window.`)
    .action((newsletterId: string, opts) => commands.runEdition().runEdition(newsletterId, opts, globals()));
  program
    .command('preview')
    .description("render a day's edition as an editor would see it, without storing or sending anything")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .option(...dateOption)
    .option('--out <file>', 'where to write the HTML (default: <outbox>/preview/<edition>.html)')
    .option('--text', 'also print the plain-text part')
    .action((newsletterId: string, opts) => commands.preview().preview(newsletterId, opts, globals()));
  const editions = program
    .command('editions')
    .description("recent editions, newest first, with state, counts and duration; the editors' say before one is sent; `editions compact` ends their ledgers")
    .option('--newsletter <id>', 'only this newsletter')
    .option('--limit <n>', 'how many (default 20)', parsePositiveInt('--limit'))
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
For a newsletter with "approval": "veto" or "required", an edition is built ahead of its slot and
waits for the editors (docs/editorial.md):
  daybreak editions approve national-2026-11-24
  daybreak editions hold national-2026-11-24
  daybreak editions drop-article national-2026-11-24 3     # story 3, as \`status\` numbers them
  daybreak editions pin-article national-2026-11-24 5      # story 5 becomes the lead`)
    .action((opts) => commands.editions().editions(opts, globals()));
  editions
    .command('approve')
    .description('approve an edition awaiting approval: it goes at its slot (at once if the slot has passed, within its send window)')
    .argument(...editionArg)
    .action((id: string) => commands.approval().approve(id, globals()));
  editions
    .command('hold')
    .description('hold an edition awaiting approval: it does not go at its slot until an editor approves it')
    .argument(...editionArg)
    .action((id: string) => commands.approval().hold(id, globals()));
  editions
    .command('drop-article')
    .description('remove a story from an edition awaiting approval (rendered again once)')
    .argument(...editionArg)
    .argument('<article>', 'the story: its number in the email (1 = the lead), or its article id')
    .action((id: string, article: string) => commands.approval().story('drop', id, article, globals()));
  editions
    .command('pin-article')
    .description('make a story the lead of an edition awaiting approval (rendered again once)')
    .argument(...editionArg)
    .argument('<article>', 'the story: its number in the email (1 = the lead), or its article id')
    .action((id: string, article: string) => commands.approval().story('pin', id, article, globals()));
  editions
    .command('compact')
    .description("compact finished editions' ledgers past their settle window (readers sent become bits), and drop per-reader data past the retention")
    .argument('[edition]', 'only this edition (refused, saying why, when it cannot be compacted yet)')
    .option('--older-than <days>', 'compact editions finished at least this many days ago (default: retention.settleDays, 7; 0: now)', parseDays('--older-than'))
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
The scheduler does this by itself every hour. A compacted edition still answers status, editions,
resend (--to, --failed, --unsent) and bounce attribution; its Message-IDs are derived again from
the edition, the reader and the install secret. After retention.readerDataDays (400) its
per-reader data goes: its counts, history and archive page stay. Safe to run twice, and to stop
at any moment: a rerun finishes the work.`)
    .action((id: string | undefined, opts) => commands.editions().compact(id, opts, globals()));
  program
    .command('status')
    .description('where an edition stands: state, counts, send rate and ETA (live with --watch)')
    .argument('<edition>', 'edition id, e.g. national-2026-11-24 (a newsletter id means its newest edition)')
    .option('--watch', 'show a live progress bar until the edition is done (or cancelled, held, failed)')
    .option('--interval <seconds>', 'how often --watch looks (default 1)', parsePositiveInt('--interval'))
    .option('--json', 'machine-readable output (with --watch: one JSON line per change)')
    .addHelpText('after', `
Examples:
  daybreak status national-2026-11-24
  daybreak status national --watch        # newest national edition, live
  daybreak status national-2026-11-24 --json | jq .counts`)
    .action((ref: string, opts) => commands.status().status(ref, opts, globals()));
  program
    .command('report')
    .description('what an edition did: sent, failed, bounced, complaints, unsubscribes it caused, and clicks per story, ranked')
    .argument('<edition>', 'edition id, e.g. national-2026-11-24 (a newsletter id means its newest edition)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
Clicks are counted in aggregate only, per story: "readers" are people following a link, "auto"
are link scanners, chat previews, HEAD requests and bursts that follow most links at once. No
open tracking: Apple Mail Privacy Protection makes opens meaningless (docs/editorial.md).`)
    .action((ref: string, opts) => commands.report().report(ref, opts, globals()));
  program
    .command('resend')
    .description('send an edition again: to one reader, to failed sends, or to everyone not yet sent')
    .argument(...editionArg)
    .option('--to <email>', 'one subscriber, even if already sent (explicit; recorded)')
    .option('--failed', 'every failed send whose reader is still deliverable (not suppressed, still subscribed)')
    .option('--unsent', 'everyone eligible with no sent mark (after an SMTP outage or a crash); nobody is mailed twice')
    .option('--dry-run', 'list who would get it; send nothing, record nothing')
    .option('--no-wait', 'queue the resend and return without waiting for the sends')
    .addOption(new Option('--concurrency <n>', 'sends in flight when this command runs its own workers').argParser(parsePositiveInt('--concurrency')))
    .option('--json', 'machine-readable output')
    .addHelpText('after', `
Every resend is recorded in the edition's history with who ran it and when (\`daybreak status\`).
When no worker is running, this command brings its own and waits for its sends.

Examples:
  daybreak resend national-2026-11-24 --failed --dry-run
  daybreak resend national-2026-11-24 --unsent
  daybreak resend national-2026-11-24 --to reader@example.com`)
    .action((id: string, opts) => commands.resend().resend(id, opts, globals()));
  program
    .command('pause')
    .description('pause a sending edition: every worker stops within seconds; its queue is kept for resume')
    .argument(...editionArg)
    .option('--reason <text>', 'why, for the edition history')
    .action((id: string, opts) => commands.control().pause(id, opts, globals()));
  program
    .command('resume')
    .description('resume a paused edition: its kept queue is sent')
    .argument(...editionArg)
    .action((id: string) => commands.control().resume(id, globals()));
  program
    .command('cancel')
    .description('cancel an edition for good: nothing more is sent (those already sent stay sent)')
    .argument(...editionArg)
    .option('--reason <text>', 'why, for the edition history')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((id: string, opts) => commands.control().cancel(id, opts, globals()));
  program
    .command('test-send')
    .description("render a day's edition and send one copy, subject marked [TEST], to any address; records nothing")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .requiredOption('--to <email>', 'the address to send the test to')
    .option(...dateOption)
    .addHelpText('after', `
If that day's edition has been built, the copy is exactly what readers got (its stored content);
otherwise the articles are picked and rendered now, as a build would. No edition, ledger,
counter or sent-article list is touched, and bounces of a test copy count against nobody.`)
    .action((newsletterId: string, opts) => commands.testSend().testSend(newsletterId, opts, globals()));

  // Subscribers.
  const subscribers = program.command('subscribers').description('manage subscribers: add, import, export, show, remove, forget, counts');
  subscribers
    .command('add')
    .description('add a confirmed subscriber (ops adding a known reader)')
    .argument('<email>', 'their address')
    .option('--name <name>', 'their name, used in the greeting')
    .option('--newsletter <id...>', 'newsletter id(s) (default: the first configured, national)')
    .option('--timezone <zone>', "their IANA time zone (e.g. America/New_York), for newsletters sent at 06:00 in each reader's zone")
    .action((email: string, opts) => commands.subscribers().add(email, opts, globals()));
  subscribers
    .command('import')
    .description('import subscribers from a CSV file (header row with an email column; optional name, newsletters and timezone columns)')
    .argument('<file>', 'CSV file, UTF-8 (or Latin-1 with --encoding latin1); CR, LF or CRLF line ends')
    .option('--newsletter <id...>', "put every row on these newsletters (default: the file's newsletters column, else the default-ticked ones)")
    .option('--confirmed', 'import as confirmed: only for a list whose consent you hold (otherwise rows are pending and get no email until they sign up)')
    .option('--quiet', 'do not print each bad row')
    .option('--encoding <name>', 'utf8 (default: a file that is not UTF-8 is refused) or latin1 (ISO-8859-1, for a file saved that way)')
    .action((file: string, opts) => commands.subscribers().importFile(file, opts, globals()));
  subscribers
    .command('export')
    .description("export subscribers as CSV (formula-safe for spreadsheets): everyone, or one newsletter's confirmed readers")
    .option('--newsletter <id>', 'only the confirmed readers of this newsletter')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((opts) => commands.subscribers().exportFile(opts, globals()));
  subscribers
    .command('show')
    .description('everything held about one subscriber: record, consent log, history, suppression')
    .argument('<email>', 'their address')
    .option('--json', 'machine-readable output')
    .action((email: string, opts) => commands.subscribers().show(email, opts, globals()));
  subscribers
    .command('remove')
    .description('unsubscribe someone from every newsletter (their record and consent log are kept)')
    .argument('<email>', 'their address')
    .action((email: string) => commands.subscribers().remove(email, globals()));
  subscribers
    .command('forget')
    .description('erase someone: all personal data deleted; only a keyed hash stays on the suppression list so the address is never re-imported')
    .argument('<email>', 'their address')
    .action((email: string) => commands.subscribers().forget(email, globals()));
  subscribers
    .command('counts')
    .description('confirmed and pending readers per newsletter, and how many have left')
    .action(() => commands.subscribers().counts(globals()));

  // Bounces and suppression.
  program
    .command('suppress')
    .description('add an address to the suppression list (no newsletter goes to it, whatever its subscriptions)')
    .argument('<email>', 'the address')
    .option('--reason <text>', 'why (kept with the suppression)', 'suppressed by ops')
    .action((email: string, opts) => commands.bounces().suppress(email, opts, globals()));
  program
    .command('unsuppress')
    .description('remove an address from the suppression list (its soft-bounce count starts again)')
    .argument('<email>', 'the address')
    .action((email: string) => commands.bounces().unsuppress(email, globals()));
  const bounces = program
    .command('bounces')
    .description('report bounces and complaints: hard/soft/complaint counts and the addresses')
    .option('--edition <id>', 'only this edition (e.g. national-2026-11-24)')
    .option('--since <when>', 'from this date, time or span back (2026-11-24, 7d, 24h); default 7d, or the whole log with --edition')
    .option('--limit <n>', 'addresses to list', parsePositiveInt('--limit'), 50)
    .option('--json', 'print the report as JSON')
    .action((opts) => commands.bounces().report(opts, globals()));
  bounces
    .command('parse')
    .description('show what the bounce parser makes of raw messages (.eml): one JSON line each')
    .argument('<files...>', 'raw messages')
    .action((files: string[]) => commands.bounces().parse(files, globals()));
  bounces
    .command('unparsed')
    .description('list messages to the bounce domain that could not be read (kept, never counted)')
    .option('--limit <n>', 'how many, newest first', parsePositiveInt('--limit'), 20)
    .option('--raw', 'print each message in full')
    .action((opts) => commands.bounces().unparsed(opts, globals()));
  program
    .command('bounce-server')
    .description('run the DSN mailbox: an SMTP listener for the bounce domain (VERP addresses) that records bounces and complaints')
    .option('--port <port>', 'port (default: bounces.server.port, 2525)', parsePositiveInt('--port'))
    .option('--host <host>', 'address to listen on (default: bounces.server.host)')
    .action((opts) => commands.bounces().bounceServer(opts, globals()));

  program
    .command('migrate')
    .description('bring data an earlier Daybreak wrote to the current stored forms, in place (idempotent, resumable)')
    .addHelpText('after', `
Run it once after upgrading, with the workers, scheduler and web server stopped (the other
commands refuse to run until it has). It converts each reader (record, history, consent log) to
the compact form, newsletter member sets to bitmaps and sent-article sets to sets by time, printing
its progress. Stopped at any point, run it again: what is converted is left alone.`)
    .action(() => commands.migrate().migrate(globals()));

  registerFeed(program, globals);
  return program;
}
