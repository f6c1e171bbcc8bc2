import { spawnSync } from 'node:child_process';

/** Runs a command without a shell; returns its status and output, never throws. */
export function run(command, args, { cwd, timeout = 300_000, env } = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
  return { status: result.status ?? 1, output, stdout: result.stdout ?? '', ms: Date.now() - started };
}

/** Runs a command and throws with its output when it fails. */
export function runOrThrow(command, args, options) {
  const result = run(command, args, options);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${tail(result.output)}`);
  return result;
}

/** The last lines of a long output. */
export function tail(text, lines = 30) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
