/** `daybreak migrate`: data an earlier Daybreak wrote, converted in place, with its progress. */
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';

export async function migrate(globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs(), allowLegacyData: true }, async (runtime) => {
    const { migrate: run } = require('../../ops/migrate') as typeof import('../../ops/migrate');
    let lastLine = 0;
    const report = await run(runtime, {
      onProgress: (p) => {
        const now = Date.now();
        if (p.step === 'readers' && p.done < p.total && now - lastLine < 2000) return;
        lastLine = now;
        console.log(p.step === 'readers' ? `readers: ${n(p.done)} of ${n(p.total)} (${p.total ? Math.floor((100 * p.done) / p.total) : 100}%)` : `${p.step}...`);
      },
    });
    const r = report.readers;
    console.log(`Readers: ${n(r.migrated)} converted, ${n(r.already)} already in the current form, ${n(r.missing)} ids unused or erased${r.changed ? `, ${n(r.changed)} kept changing` : ''}.`);
    console.log(`Newsletter sets made bitmaps: ${n(report.sets)}; sent-article sets kept by time: ${n(report.sentArticles)}. (${(report.ms / 1000).toFixed(1)} s)`);
    if (!report.finished) {
      process.exitCode = 1;
      console.log('Not finished: some readers changed while being converted. Stop every Daybreak process still running the earlier version, then run `daybreak migrate` again.');
    } else if (r.migrated === 0 && report.sets === 0 && report.sentArticles === 0) {
      console.log('Nothing to migrate: everything is in the current form.');
    } else {
      console.log('Done: everything is in the current form.');
    }
  });
}
