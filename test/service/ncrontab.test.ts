// NCRONTAB as Azure Functions timers read it: six fields, ranges, steps, names, and NCrontab's rule that day and weekday must both match.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { nextOccurrence, occurrencesBetween, parseNcrontab, ScheduleError } from "../../src/schedule/ncrontab";

const at = (iso: string) => new Date(iso);
const next = (expression: string, after: string) => nextOccurrence(parseNcrontab(expression), at(after))?.toISOString();

describe("NCRONTAB", () => {
  test("the examples from the timer trigger documentation fire when it says", () => {
    assert.equal(next("0 */5 * * * *", "2026-03-01T10:02:30Z"), "2026-03-01T10:05:00.000Z");
    assert.equal(next("0 0 * * * *", "2026-03-01T10:00:00Z"), "2026-03-01T11:00:00.000Z", "strictly after the given time");
    assert.equal(next("0 30 9 * * 1-5", "2026-03-06T09:30:00Z"), "2026-03-09T09:30:00.000Z", "Friday to the next Monday");
    assert.equal(next("0 0 9-17 * * MON-FRI", "2026-03-07T12:00:00Z"), "2026-03-09T09:00:00.000Z");
    assert.equal(next("0 30 9 * Jan Mon", "2026-02-01T00:00:00Z"), "2027-01-04T09:30:00.000Z");
    assert.equal(next("5,8,10 * * * * *", "2026-03-01T00:00:08Z"), "2026-03-01T00:00:10.000Z");
    assert.equal(next("10/20 * * * * *", "2026-03-01T00:00:31Z"), "2026-03-01T00:00:50.000Z", "a/n runs from a to the end in steps of n");
  });

  test("a day must match both the day and the day-of-week fields, as in NCrontab", () => {
    // 13 March 2026 is a Friday: "Friday the 13th" only.
    assert.equal(next("0 0 0 13 * 5", "2026-01-01T00:00:00Z"), "2026-02-13T00:00:00.000Z");
    assert.equal(next("0 0 0 13 * 5", "2026-02-13T00:00:00Z"), "2026-03-13T00:00:00.000Z");
  });

  test("short months and leap days are handled; an impossible date never fires", () => {
    assert.equal(next("0 0 0 31 * *", "2026-04-01T00:00:00Z"), "2026-05-31T00:00:00.000Z");
    assert.equal(next("0 0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
    assert.equal(next("0 0 0 31 2 *", "2026-01-01T00:00:00Z"), undefined);
  });

  test("occurrences between two times count every firing once", () => {
    const hourly = parseNcrontab("0 0 * * * *");
    assert.equal(occurrencesBetween(hourly, at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z")).length, 24);
    const everyTenSeconds = parseNcrontab("*/10 * * * * *");
    assert.equal(occurrencesBetween(everyTenSeconds, at("2026-03-01T00:00:00Z"), at("2026-03-01T00:01:00Z")).length, 6);
  });

  test("mistakes are refused with a message naming the field and a good value", () => {
    const cases: Array<[string, RegExp]> = [
      ["0 2 * * *", /has 5 fields; NCRONTAB needs 6/],
      ["0 0 24 * * *", /hour field "24" has 24, outside 0-23/],
      ["0 0 2 * * 7", /day-of-week field "7" has 7, outside 0-6/],
      ["0 0 5-2 * * *", /runs backwards/],
      ["0 0 */0 * * *", /step "0"/],
      ["0 0 2 * Foo *", /month field "Foo" has "Foo"/],
      ["0 0 2 ,1 * *", /empty list entry/],
      ["00:05:00", /has 1 fields/],
    ];
    for (const [expression, message] of cases) assert.throws(() => parseNcrontab(expression), (error: unknown) => error instanceof ScheduleError && message.test(error.message), expression);
  });
});
