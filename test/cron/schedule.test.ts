/**
 * Next-run computation across DST and time zones (croner under our Schedule),
 * quiet hours that wrap midnight, and @every alignment.
 */
import { describe, expect, test } from "bun:test";
import { compileSchedule, type Schedule } from "../../src/cron/schedule.ts";

function sched(schedule: string, timezone = "", quietHours = ""): Schedule {
  const s = compileSchedule({ schedule, timezone, quietHours });
  if (typeof s === "string") throw new Error(s);
  return s;
}
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);

describe("schedule next runs", () => {
  test("spring forward: 02:30 Berlin does not exist on 2026-03-29; it runs once, an hour later (03:30 CEST), and the next day at 02:30 again", () => {
    const s = sched("30 2 * * *", "Europe/Berlin");
    expect(iso(s.next(at("2026-03-28T12:00:00Z")))).toBe("2026-03-29T01:30:00.000Z");
    expect(iso(s.next(at("2026-03-29T01:30:00Z")))).toBe("2026-03-30T00:30:00.000Z");
  });

  test("fall back: 02:30 Berlin happens twice on 2026-10-25; it runs once", () => {
    const s = sched("30 2 * * *", "Europe/Berlin");
    const first = s.next(at("2026-10-24T12:00:00Z"))!;
    expect(iso(first)).toBe("2026-10-25T00:30:00.000Z");
    // The second 02:30 (01:30Z, CET) is not another slot: the next is the following day.
    expect(iso(s.next(first))).toBe("2026-10-26T01:30:00.000Z");
  });

  test("New York, hourly across spring forward: no 02:xx slot, no duplicate", () => {
    const s = sched("0 * * * *", "America/New_York");
    const runs: string[] = [];
    let t = at("2026-03-08T05:30:00Z"); // 00:30 EST
    for (let i = 0; i < 4; i++) {
      t = s.next(t)!;
      runs.push(
        new Intl.DateTimeFormat("en-GB", { timeZone: "America/New_York", hour: "2-digit", hourCycle: "h23" }).format(t),
      );
    }
    expect(runs).toEqual(["01", "03", "04", "05"]);
  });

  test("a zone far from UTC: 07:00 weekdays in Pacific/Kiritimati (UTC+14) is 17:00 UTC the previous day", () => {
    const s = sched("0 7 * * 1-5", "Pacific/Kiritimati");
    // Friday 2026-12-04 18:00Z is already Saturday 08:00 in Kiritimati: next is Monday 07:00 local = Sunday 17:00Z.
    expect(iso(s.next(at("2026-12-04T18:00:00Z")))).toBe("2026-12-06T17:00:00.000Z");
    const samoa = sched("@daily", "Pacific/Pago_Pago"); // UTC-11
    expect(iso(samoa.next(at("2026-12-04T00:00:00Z")))).toBe("2026-12-04T11:00:00.000Z");
  });

  test("6 fields (seconds) and @every align to the epoch, so slots match across restarts", () => {
    expect(iso(sched("*/15 * * * * *", "UTC").next(at("2026-01-01T00:00:07Z")))).toBe("2026-01-01T00:00:15.000Z");
    const every = sched("@every 15m");
    expect(iso(every.next(at("2026-01-01T00:07:00Z")))).toBe("2026-01-01T00:15:00.000Z");
    expect(iso(every.next(at("2026-01-01T00:15:00Z")))).toBe("2026-01-01T00:30:00.000Z");
  });

  test("quiet hours wrap midnight in the job's zone", () => {
    const s = sched("@hourly", "Asia/Tokyo", "22:00-07:00"); // UTC+9
    expect(s.quiet(at("2026-01-01T13:30:00Z"))).toBe(true); // 22:30 Tokyo
    expect(s.quiet(at("2026-01-01T21:59:00Z"))).toBe(true); // 06:59
    expect(s.quiet(at("2026-01-01T22:00:00Z"))).toBe(false); // 07:00
    expect(s.quiet(at("2026-01-01T12:59:00Z"))).toBe(false); // 21:59
  });

  test("bad schedules, zones and quiet hours say why", () => {
    expect(compileSchedule({ schedule: "61 * * * *", timezone: "", quietHours: "" })).toContain(
      "not a cron expression",
    );
    expect(compileSchedule({ schedule: "@every soon", timezone: "", quietHours: "" })).toContain("@every <number>");
    expect(compileSchedule({ schedule: "@hourly", timezone: "Mars/Olympus", quietHours: "" })).toContain("IANA");
    expect(compileSchedule({ schedule: "@hourly", timezone: "", quietHours: "late" })).toContain("HH:MM-HH:MM");
  });
});
