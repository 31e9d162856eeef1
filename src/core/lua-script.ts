/** Lua scripts kept as files (`<name>-<numKeys>.lua`, as BullMQ keeps its own), run by SHA. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';

type Reply = string | number | null | Reply[];

/** A Lua script run by its SHA, loaded on first use (or after a Redis restart). */
export class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string, readonly name = 'inline', readonly numberOfKeys?: number) {
    this.sha = crypto.createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<Reply> {
    if (this.numberOfKeys !== undefined && keys.length !== this.numberOfKeys) {
      throw new Error(`Lua script ${this.name} takes ${this.numberOfKeys} keys, was given ${keys.length}`);
    }
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as Reply;
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as Reply;
    }
  }
}

const includeLine = /^--- @include "([^"]+)"\s*$/;

/** The file's text with each `--- @include "relative/name"` line replaced by that file (once per script). */
function expand(file: string, seen: Set<string>): string {
  const text = fs.readFileSync(file, 'utf8');
  return text
    .split('\n')
    .map((line) => {
      const m = includeLine.exec(line);
      if (!m) return line;
      const included = path.resolve(path.dirname(file), `${m[1]}.lua`);
      if (seen.has(included)) return `-- (${m[1]} already included)`;
      seen.add(included);
      return expand(included, seen);
    })
    .join('\n');
}

/**
 * Loads `<dir>/<name>-<numKeys>.lua`, its includes expanded. The key count in the file name is
 * checked on every call, so a caller passing the wrong keys fails loudly instead of corrupting data.
 */
export function loadLuaScript(dir: string, fileName: string): LuaScript {
  const m = /^(.+)-(\d+)\.lua$/.exec(fileName);
  if (!m) throw new Error(`Lua file ${fileName} is not named <name>-<numKeys>.lua`);
  return new LuaScript(expand(path.join(dir, fileName), new Set()), m[1] as string, Number(m[2]));
}
