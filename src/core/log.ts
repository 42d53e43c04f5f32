// Structured logs: one JSON object per line on stderr, each naming the node, so logs from a
// cluster's processes can be merged and filtered. Levels: error, warn, info, debug.

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(options: { node: string; level: LogLevel; write?: (line: string) => void }): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return {
    log(level, message, fields) {
      if (rank[level] > rank[options.level]) return;
      write(
        `${JSON.stringify({ ts: new Date().toISOString(), level, node: options.node, msg: message, ...fields })}\n`,
      );
    },
  };
}

export const silentLogger: Logger = { log: () => undefined };
