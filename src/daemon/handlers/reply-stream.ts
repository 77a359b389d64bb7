/**
 * A stream handler's replies as a mapping over its events, without an
 * async generator: a generator that `for await`s one stream and yields
 * another allocates several promises and result objects per event, and a
 * big answer is hundreds of thousands of deltas. Same contract as the
 * generator `for await (e of source) { yield map(e); if (last(e)) return; }`
 * (optionally yielding `first` before): after the last event the next
 * `next()` ends the stream and lets go of the source (its `return`); the
 * consumer's `return` lets go of it as well; the source's failures reach
 * the consumer. One consumer at a time (as `for await` is).
 */
import type { Reply } from "../router.ts";

export function replyStream<E>(
  source: AsyncIterable<E>,
  map: (event: E) => Reply,
  last: (event: E) => boolean = () => false,
  first?: Reply,
): AsyncIterable<Reply> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Reply> {
      let pendingFirst = first;
      let it: AsyncIterator<E> | undefined;
      let ending = false;
      let finished = false;
      const DONE: IteratorResult<Reply> = { value: undefined, done: true };
      const release = async (): Promise<IteratorResult<Reply>> => {
        if (finished) return DONE;
        finished = true;
        await it?.return?.();
        return DONE;
      };
      const onNext = (r: IteratorResult<E>): IteratorResult<Reply> => {
        if (r.done) {
          finished = true;
          return DONE;
        }
        if (last(r.value)) ending = true;
        return { value: map(r.value), done: false };
      };
      return {
        next: (): Promise<IteratorResult<Reply>> => {
          if (finished) return Promise.resolve(DONE);
          if (pendingFirst !== undefined) {
            const value = pendingFirst;
            pendingFirst = undefined;
            return Promise.resolve({ value, done: false });
          }
          if (ending) return release();
          it ??= source[Symbol.asyncIterator]();
          return it.next().then(onNext, (err: unknown) => {
            finished = true;
            throw err;
          });
        },
        return: (): Promise<IteratorResult<Reply>> => release(),
      };
    },
  };
}
