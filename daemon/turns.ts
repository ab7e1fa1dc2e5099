/**
 * Runs the work given to it one at a time, in the order given; one that fails does not stop
 * the next. For what must see everything before it (log appends, job numbers, admissions).
 */
export function takeTurns (): <T>(work: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve()
  return async <T>(work: () => Promise<T>): Promise<T> => {
    const turn = last.then(work)
    last = turn.catch(() => {})
    return await turn
  }
}
