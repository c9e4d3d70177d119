/** Waiting in tests: a plain sleep, and polling until a condition holds. */

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `test` every `everyMs` until it holds; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function until(what: string, test: () => boolean, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
