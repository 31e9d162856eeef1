import { FeedError } from '../../src/articles/errors';

/** Awaits a promise that must reject with a FeedError, and returns that error for inspection. */
export async function feedError(promise: Promise<unknown>): Promise<FeedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FeedError);
    return error as FeedError;
  }
  throw new Error('expected a FeedError, got a result');
}
