/**
 * Runs an azd hook script with fake `az`, `azd` and `sleep` first on PATH. Each fake records its arguments (one line
 * per call) and answers from a table of glob patterns (matched like `case` in sh) with an exit code and output; a
 * call no pattern answers fails loudly, so a hook cannot silently depend on an unexpected command. `--file <path>`
 * arguments are copied aside, so a test can check what would have been uploaded.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './files.js';

export interface Answer {
  /** sh `case` pattern over `<tool> <args…>` joined by spaces, e.g. `az keyvault secret list *`. */
  readonly when: string;
  readonly exit?: number;
  readonly output?: string;
}

export interface HookRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Every fake call, as `<tool> <args…>`. */
  readonly calls: readonly string[];
  /** Contents of the files passed as `--file`, in call order. */
  readonly files: readonly string[];
}

const FAKE = `#!/bin/sh
tool=$(basename "$0")
printf '%s\\n' "$tool $*" >> "$FAKE_DIR/calls.log"
prev=""
for a in "$@"; do
  if [ "$prev" = "--file" ]; then
    n=$(ls "$FAKE_DIR" | grep -c '^upload-' || true)
    cp "$a" "$FAKE_DIR/upload-$n"
  fi
  prev="$a"
done
line="$tool $*"
while IFS='	' read -r pattern code output; do
  case "$line" in
    $pattern)
      [ -n "$output" ] && printf '%s\\n' "$output"
      exit "$code" ;;
  esac
done < "$FAKE_DIR/answers.tsv"
echo "fake $tool: no answer for: $line" >&2
exit 97
`;

/** Runs `sh infra/scripts/<script>` with the given environment and answers. */
export function runHook(script: string, env: Record<string, string>, answers: readonly Answer[]): HookRun {
  const dir = mkdtempSync(join(tmpdir(), 'azd-hook-'));
  try {
    for (const tool of ['az', 'azd', 'sleep']) {
      writeFileSync(join(dir, tool), FAKE);
      chmodSync(join(dir, tool), 0o755);
    }
    const table = [...answers, { when: 'sleep *', exit: 0 }]
      .map((a) => `${a.when}\t${a.exit ?? 0}\t${(a.output ?? '').replace(/[\t\n]/g, ' ')}`)
      .join('\n');
    writeFileSync(join(dir, 'answers.tsv'), `${table}\n`);
    writeFileSync(join(dir, 'calls.log'), '');
    const result = spawnSync('sh', [join(repoRoot, 'infra', 'scripts', script)], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir, TMPDIR: dir, FAKE_DIR: dir, ...env },
      timeout: 60_000,
    });
    const calls = readFileSync(join(dir, 'calls.log'), 'utf8').split('\n').filter(Boolean);
    const files = readdirSync(dir)
      .filter((n) => n.startsWith('upload-'))
      .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
      .map((n) => readFileSync(join(dir, n), 'utf8'));
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
