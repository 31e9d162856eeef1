/** `daybreak editions approve|hold|drop-article|pin-article`: the editors' say from the command line. */
import { approveEdition, changeStory, holdEdition, type ApprovalResult } from '../../delivery/approval';
import { currentOperator } from '../../ops/control';
import { articleList } from '../article-list';
import { quietLogs, withRuntime, type GlobalOptions } from '../context';
import { DaybreakError } from '../../core/errors';

/** Who acted, for the edition's history: the person at the terminal. */
const by = () => `ops:${currentOperator()}`;

function say(result: ApprovalResult, what: string): void {
  console.log(`${what} ${result.edition.id}. ${result.next}`);
  // Approved too late for its send window: held as too late, like `run-edition` (exit 4).
  if (/Too late for its send window/.test(result.next)) throw new DaybreakError('edition-held', `Edition ${result.edition.id} was approved after its send window; \`daybreak run-edition ${result.edition.newsletterId} --date ${result.edition.localDate} --force\` sends it.`, { context: { edition: result.edition.id } });
}

export async function approve(id: string, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => say(await approveEdition(runtime, id, { by: by() }), 'Approved'));
}

export async function hold(id: string, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => say(await holdEdition(runtime, id, { by: by() }), 'Held'));
}

export async function story(kind: 'drop' | 'pin', id: string, ref: string, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const result = await changeStory(runtime, id, { kind, story: ref, by: by() });
    if (!result.changed) console.log(`"${result.article.title}" already leads ${id}; nothing changed.`);
    else console.log(`${kind === 'drop' ? 'Dropped' : 'Pinned as the lead'}: "${result.article.title}". ${id} was rendered again (render ${result.edition.renders}); it now reads:`);
    console.log(articleList(result.edition.articles).join('\n'));
    if (result.changed && !result.edition.approval) console.log(`It needs an editor's approval${runtime.newsletter(result.edition.newsletterId).approval === 'veto' ? ' only if it was held' : ''}: \`daybreak editions approve ${id}\`.`);
  });
}
