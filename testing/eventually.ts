/**
 * The one polling helper of the test suites: waits until `check` stops throwing and returns its
 * value; after `timeoutMs` it throws the check's last error. It polls on real timers, so use it
 * for what real I/O brings (a frame over a socket, a browser rendering), never to let a fake
 * clock's timers run, and never to prove that something did not happen.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) {
        if (error instanceof Error) error.message = `still failing after ${timeoutMs} ms: ${error.message}`;
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
