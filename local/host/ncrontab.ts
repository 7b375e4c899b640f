/** A parsed six-field NCRONTAB schedule (`second minute hour day month day-of-week`), evaluated in UTC. */
export interface NcrontabSchedule {
  readonly expression: string;
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day-of-week', min: 0, max: 6, names: DAYS, nameBase: 0 },
];

function parseValue(text: string, spec: FieldSpec): number {
  const lower = text.toLowerCase();
  if (spec.names) {
    const index = spec.names.findIndex((n) => lower === n || (lower.length > 3 && lower.startsWith(n)));
    if (index >= 0) return index + (spec.nameBase ?? 0);
  }
  if (!/^\d+$/.test(text)) throw new Error(`Invalid ${spec.name} value "${text}"`);
  const value = Number(text);
  if (spec.name === 'day-of-week' && value === 7) return 0;
  if (value < spec.min || value > spec.max) throw new Error(`${spec.name} value ${value} is outside ${spec.min}-${spec.max}`);
  return value;
}

function parseField(text: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const [rangeText = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`Invalid step in ${spec.name} field "${part}"`);
    let low: number;
    let high: number;
    if (rangeText === '*') {
      low = spec.min;
      high = spec.max;
    } else if (rangeText.includes('-')) {
      const [a = '', b = ''] = rangeText.split('-');
      low = parseValue(a, spec);
      high = parseValue(b, spec);
      if (high < low) throw new Error(`Invalid range in ${spec.name} field "${part}"`);
    } else {
      low = parseValue(rangeText, spec);
      high = stepText === undefined ? low : spec.max;
    }
    for (let v = low; v <= high; v += step) values.add(v);
  }
  return values;
}

/**
 * Parses an NCRONTAB expression as the Functions timer trigger does: six fields, each `*`, a value, a range `a-b`,
 * a step (star-slash-n) or `a-b/n` or `a/n`, or a comma list of those; months and days of week also by name (`Jan`, `Mon`).
 * Day-of-month and day-of-week must both match (NCrontab semantics). Throws on anything else.
 */
export function parseNcrontab(expression: string): NcrontabSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) throw new Error(`"${expression}" is not a six-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`);
  const [seconds, minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i] as FieldSpec)) as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  return {
    expression,
    next(after: Date): Date {
      const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      for (let guard = 0; guard < 500_000; guard++) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t.setUTCMonth(t.getUTCMonth() + 1, 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
          t.setUTCDate(t.getUTCDate() + 1);
          t.setUTCHours(0, 0, 0, 0);
        } else if (!hours.has(t.getUTCHours())) {
          t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        } else if (!minutes.has(t.getUTCMinutes())) {
          t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
        } else if (!seconds.has(t.getUTCSeconds())) {
          t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
        } else {
          return t;
        }
      }
      throw new Error(`NCRONTAB "${expression}" has no occurrence after ${after.toISOString()}`);
    },
  };
}

/** Replaces `%NAME%` with the setting's value, as the host does for binding expressions; throws for a missing setting. */
export function resolveSettingExpression(value: string, settings: Record<string, string | undefined>): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = settings[name];
    if (resolved === undefined) throw new Error(`Setting '${name}' referenced by '${value}' is not defined`);
    return resolved;
  });
}
