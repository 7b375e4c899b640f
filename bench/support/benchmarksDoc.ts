import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PREAMBLE = "# Benchmarks\n\nMeasured numbers of the project's benchmarks (`bench/`); each section says how to rerun it.\n";

/**
 * Replaces the section of docs/benchmarks.md that starts with `heading` (up to the next `## `) by `section`, or
 * appends it: each benchmark rewrites its own section only.
 */
export function writeBenchmarkSection(heading: string, section: string): void {
  const file = path.join('docs', 'benchmarks.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const start = text.indexOf(heading);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + heading.length);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text);
}
