/**
 * Minimal leveled logging to stdout/stderr with a timestamp. The server's own output is small
 * and line-oriented, so this stays dependency-free.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const min = RANK[(process.env.VMM_LOG_LEVEL as Level) ?? 'info'] ?? 1;

function write(level: Level, msg: string): void {
  if (RANK[level] < min) return;
  const line = `${new Date().toISOString()} ${level.padEnd(5)} ${msg}\n`;
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line);
}

export const log = {
  debug: (m: string) => write('debug', m),
  info: (m: string) => write('info', m),
  warn: (m: string) => write('warn', m),
  error: (m: string) => write('error', m),
};
