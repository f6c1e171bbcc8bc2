/** Collects check results and prints them as they come, with a closing count. */
export class Report {
  results = [];

  /** Runs one named check; a thrown error (or a rejected promise) fails it. */
  async check(name, body) {
    const started = Date.now();
    try {
      const detail = await body();
      this.record(name, true, detail, Date.now() - started);
    } catch (error) {
      this.record(name, false, error instanceof Error ? error.message : String(error), Date.now() - started);
    }
  }

  record(name, ok, detail, ms) {
    this.results.push({ name, ok, detail, ms });
    const time = `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${name} (${time})${detail ? `: ${String(detail).split('\n')[0]}` : ''}`,
    );
    if (!ok) console.log(String(detail).replace(/^/gm, '     '));
  }

  get failed() {
    return this.results.filter((r) => !r.ok);
  }

  summary() {
    const failed = this.failed.length;
    return `${this.results.length - failed} passed, ${failed} failed`;
  }
}

/** Fails with `message` unless `condition` holds. */
export function assert(condition, message) {
  if (!condition) throw new Error(message);
}
