/** Log levels, as the worker names them. */
export type LogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';

/** One log line: from a function invocation (`user`/`system`, with function name and invocation id) or the host. */
export interface LogEntry {
  timestamp: string;
  level: LogLevel;
  category: 'user' | 'system' | 'host';
  functionName?: string;
  invocationId?: string;
  message: string;
}

/** Receives every log line of the host and of the functions it runs. */
export type LogSink = (entry: LogEntry) => void;

/** The default sink: one line per entry on stderr. */
export const consoleLogSink: LogSink = (entry) => {
  const where = entry.functionName ? ` ${entry.functionName}${entry.invocationId ? ` (${entry.invocationId})` : ''}` : '';
  process.stderr.write(`[${entry.timestamp}] ${entry.level}${where}: ${entry.message}\n`);
};

/** Writes a host-level entry to a sink. */
export function hostLog(sink: LogSink, level: LogLevel, message: string, functionName?: string): void {
  sink({ timestamp: new Date().toISOString(), level, category: 'host', message, ...(functionName ? { functionName } : {}) });
}
