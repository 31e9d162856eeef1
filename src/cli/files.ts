/** Files a command writes where a person told it to: failures become one line naming what to fix. */
import fs from 'node:fs';
import path from 'node:path';
import { DaybreakError } from '../core/errors';

/** The filesystem's complaint about `file`, in words, as a path-unusable error. */
export function explainPathError(error: unknown, file: string, what: string): DaybreakError {
  const code = (error as NodeJS.ErrnoException).code;
  const folder = path.dirname(file);
  const reason =
    code === 'ENOENT' ? `the folder ${folder} does not exist (create it first, or choose another path)`
    : code === 'EACCES' || code === 'EPERM' ? `no permission to write ${file}`
    : code === 'EISDIR' ? `${file} is a folder; give a file name`
    : code === 'ENOTDIR' ? `a part of ${folder} is a file, not a folder`
    : code === 'ENOSPC' ? `the disk holding ${folder} is full`
    : `${(error as Error).message}`;
  return new DaybreakError('path-unusable', `Cannot write ${what} to ${file}: ${reason}.`, { context: { file }, cause: error });
}

export async function writeFileOrExplain(file: string, data: string | Buffer, what: string): Promise<void> {
  try {
    await fs.promises.writeFile(file, data);
  } catch (error) {
    throw explainPathError(error, file, what);
  }
}

/** Opens a file for writing (mode 0600 for personal data) and fails before any row is read when it cannot. */
export async function openWriteStream(file: string, what: string, mode = 0o600): Promise<fs.WriteStream> {
  const stream = fs.createWriteStream(file, { mode });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (error) => reject(explainPathError(error, file, what)));
  });
  return stream;
}
