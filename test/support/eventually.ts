/** Polls `check` every `intervalMs` until it returns something other than undefined; throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Waits until `check()` is true, polling every `intervalMs`; throws after `timeoutMs`. */
export async function until(
  what: string,
  timeoutMs: number,
  check: () => boolean,
  intervalMs = 20,
): Promise<void> {
  await eventually(what, timeoutMs, async () => (check() ? true : undefined), intervalMs);
}
