import crypto from 'node:crypto';
import type Redis from 'ioredis';

type Reply = string | number | null | Reply[];

/** A Lua script run by its SHA, loaded on first use (or after a Redis restart). */
export class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = crypto.createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<Reply> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as Reply;
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return (await redis.eval(this.source, keys.length, ...keys, ...args)) as Reply;
    }
  }
}
