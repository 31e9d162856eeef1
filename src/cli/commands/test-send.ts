/** `daybreak test-send`: one marked copy of a day's edition to any address, recording nothing. */
import { testSend as sendTestCopy } from '../../ops/test-send';
import { parseEmailArgument, quietLogs, withRuntime, type GlobalOptions } from '../context';
import { resolveLocalDate } from './run-edition';

export async function testSend(newsletterId: string, opts: { to: string; date?: string }, globals: GlobalOptions): Promise<void> {
  const to = parseEmailArgument(opts.to, '--to ');
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    runtime.newsletter(newsletterId);
    const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
    const result = await sendTestCopy(runtime, { newsletterId, localDate, to });
    console.log(`Test copy of ${result.editionId} sent to ${result.to}`);
    console.log(`Subject:   ${result.subject}`);
    console.log(`Content:   ${result.source === 'stored' ? 'the edition as sent to readers' : 'built now (this day has no stored edition yet)'}, ${result.articles} article(s), ${Math.round(result.bytes / 1024)} KB`);
    console.log(`Via:       ${result.transport} (${result.response})`);
    console.log('Nothing was recorded: no edition, ledger or counter changed.');
  });
}
