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

/** Longest log message the host passes on; the rest is cut (a rejected 10 MB body must not reach the log whole). */
export const MAX_LOG_MESSAGE_CHARS = 4096;

const REDACTED = '[redacted]';
const CODE_PARAMETER = /([?&](?:code|sig)=)[^&\s"'<>]+/gi;
const KEY_HEADER = /(x-functions-key["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi;

/** Removes keys from a URL or any text holding one: `code=` (and SAS `sig=`) query values, `x-functions-key` values. */
export function redactKeys(text: string): string {
  return text.replace(CODE_PARAMETER, `$1${REDACTED}`).replace(KEY_HEADER, `$1${REDACTED}`);
}

/**
 * Wraps a sink so that no entry carries a key or a whole body: every known key value and every `code=` /
 * `x-functions-key` value is replaced by `[redacted]`, and a message longer than `maxChars` is cut, saying how much
 * was left out.
 */
export function redactingSink(sink: LogSink, secrets: () => readonly string[], maxChars = MAX_LOG_MESSAGE_CHARS): LogSink {
  return (entry) => {
    const total = entry.message.length;
    // Redact a window a little longer than what is kept, so a key straddling the cut is still recognised whole.
    let message = total > maxChars ? entry.message.slice(0, maxChars + 512) : entry.message;
    for (const secret of secrets()) if (secret.length >= 8) message = message.split(secret).join(REDACTED);
    message = redactKeys(message);
    if (total > maxChars) message = `${message.slice(0, maxChars)}… [${total - maxChars} more characters not logged]`;
    sink(message === entry.message ? entry : { ...entry, message });
  };
}

const LEVEL_ORDER: readonly LogLevel[] = ['trace', 'debug', 'information', 'warning', 'error', 'critical', 'none'];

/** A host.json / Functions log level name (`Information`, `Warning`, `Debug`, …) as a `LogLevel`; undefined if unknown. */
export function parseLogLevel(text: string | undefined): LogLevel | undefined {
  const name = text?.trim().toLowerCase();
  return LEVEL_ORDER.find((level) => level === name);
}

/**
 * Wraps a sink so that entries below `minimum` are dropped, as the Functions host applies host.json
 * `logging.logLevel.default` (Information unless set): routine detail at debug (sub-orchestration lifecycles,
 * `context.debug`) stays out of the console.
 */
export function levelSink(sink: LogSink, minimum: LogLevel): LogSink {
  const floor = LEVEL_ORDER.indexOf(minimum);
  return (entry) => {
    if (LEVEL_ORDER.indexOf(entry.level) >= floor && entry.level !== 'none') sink(entry);
  };
}

/** Writes a host-level entry to a sink. */
export function hostLog(sink: LogSink, level: LogLevel, message: string, functionName?: string): void {
  sink({ timestamp: new Date().toISOString(), level, category: 'host', message, ...(functionName ? { functionName } : {}) });
}
