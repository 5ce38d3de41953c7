// Parses the six-field NCRONTAB expressions Azure Functions timers use and computes when they fire next, in UTC.

/** One field's allowed values, inclusive, and the names NCrontab accepts for them (any prefix, case-insensitive). */
interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const fieldSpecs: readonly FieldSpec[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"] },
  // NCrontab's day of week runs 0-6 from Sunday and has no 7.
  { name: "day-of-week", min: 0, max: 6, names: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] },
];

/** A schedule never searched further than this finds no occurrence (a leap-day-only schedule recurs within 8 years). */
const searchHorizonYears = 8;

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

export interface NcrontabSchedule {
  expression: string;
  seconds: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  daysOfWeek: ReadonlySet<number>;
}

export function parseNcrontab(expression: string): NcrontabSchedule {
  const tokens = expression.trim().split(/\s+/).filter((token) => token !== "");
  if (tokens.length !== fieldSpecs.length) {
    throw new ScheduleError(`Schedule "${expression}" has ${tokens.length} fields; NCRONTAB needs 6: {second} {minute} {hour} {day} {month} {day-of-week}, such as "0 0 2 * * *"`);
  }
  const [seconds, minutes, hours, days, months, daysOfWeek] = tokens.map((token, index) => parseField(token, fieldSpecs[index]!, expression)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { expression, seconds, minutes, hours, days, months, daysOfWeek };
}

function parseField(token: string, spec: FieldSpec, expression: string): Set<number> {
  const values = new Set<number>();
  const fail = (why: string): never => {
    throw new ScheduleError(`Schedule "${expression}": ${spec.name} field "${token}" ${why}`);
  };
  for (const part of token.split(",")) {
    if (part === "") fail("has an empty list entry");
    const [range, stepText, extra] = part.split("/");
    if (extra !== undefined) fail("has more than one /");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || !/^\d+$/.test(stepText ?? "1")) fail(`has step "${stepText}"; a step is a whole number of at least 1`);
    let first: number;
    let last: number;
    if (range === "*") {
      first = spec.min;
      last = spec.max;
    } else if (range!.includes("-")) {
      const [from, to, more] = range!.split("-");
      if (more !== undefined) fail("has a range with more than one -");
      first = parseValue(from!, spec, fail);
      last = parseValue(to!, spec, fail);
      if (last < first) fail(`has the range ${first}-${last}, which runs backwards`);
    } else {
      first = parseValue(range!, spec, fail);
      // As in NCrontab, "5/15" means from 5 to the end of the range in steps of 15.
      last = stepText === undefined ? first : spec.max;
    }
    for (let value = first; value <= last; value += step) values.add(value);
  }
  return values;
}

function parseValue(text: string, spec: FieldSpec, fail: (why: string) => never): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) fail(`has ${value}, outside ${spec.min}-${spec.max}`);
    return value;
  }
  const lower = text.toLowerCase();
  const index = text === "" ? -1 : (spec.names ?? []).findIndex((name) => name.toLowerCase().startsWith(lower));
  if (index < 0) fail(`has "${text}", which is neither a number in ${spec.min}-${spec.max}${spec.names ? " nor a name such as " + spec.names[0]!.slice(0, 3) : ""}`);
  return spec.min + index;
}

/** The first time strictly after `after` that the schedule fires; undefined if it never does (such as 31 February). */
export function nextOccurrence(schedule: NcrontabSchedule, after: Date): Date | undefined {
  // Work in whole UTC seconds: the next candidate is the second after `after`.
  let time = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const horizon = Date.UTC(time.getUTCFullYear() + searchHorizonYears, 0, 1);
  while (time.getTime() < horizon) {
    if (!schedule.months.has(time.getUTCMonth() + 1)) {
      time = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth() + 1, 1));
      continue;
    }
    // Like NCrontab (and unlike Vixie cron), a day must match both the day and the day-of-week fields.
    if (!schedule.days.has(time.getUTCDate()) || !schedule.daysOfWeek.has(time.getUTCDay())) {
      time = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate() + 1));
      continue;
    }
    if (!schedule.hours.has(time.getUTCHours())) {
      time = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate(), time.getUTCHours() + 1));
      continue;
    }
    if (!schedule.minutes.has(time.getUTCMinutes())) {
      time = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate(), time.getUTCHours(), time.getUTCMinutes() + 1));
      continue;
    }
    if (!schedule.seconds.has(time.getUTCSeconds())) {
      time = new Date(time.getTime() + 1000);
      continue;
    }
    return time;
  }
  return undefined;
}

/** Every time the schedule fires in the half-open window (from, until]. */
export function occurrencesBetween(schedule: NcrontabSchedule, from: Date, until: Date): Date[] {
  const found: Date[] = [];
  for (let next = nextOccurrence(schedule, from); next && next.getTime() <= until.getTime(); next = nextOccurrence(schedule, next)) found.push(next);
  return found;
}
