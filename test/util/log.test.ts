/**
 * Tagged loggers (src/util/log.ts) make their consola child at their first
 * line, not at import: a logger taken before `configureLoggers` and first used
 * after it must still reach the configured reporters at the configured
 * level, as must one already used before, and reconfiguring again reaches
 * both.
 */
import { afterAll, expect, test } from "bun:test";
import type { LogObject } from "consola/core";
import { configureLoggers, logger, logText, resetLoggers } from "../../src/util/log.ts";

// Loggers are process-wide and test files share the process: leave them as they were found.
afterAll(resetLoggers);

test("loggers used before and after configureLoggers follow the current level and reporters", () => {
  const early = logger("early");
  const late = logger("late");
  const first: string[] = [];
  const second: string[] = [];
  const reporter = (into: string[]) => ({
    log: (obj: LogObject) => into.push(`${obj.type} [${obj.tag}] ${logText(obj)}`),
  });

  configureLoggers(3, [reporter(first)]);
  early.info("early line");
  early.debug("below the level");
  late.warn("late line", { n: 1 });
  expect(first).toEqual(["info [early] early line", 'warn [late] late line {"n":1}']);

  // Both children exist now; a new configuration reaches them, debug included at level 4.
  configureLoggers(4, [reporter(second)]);
  early.debug("debug now");
  late.error(new Error("boom"));
  expect(first).toHaveLength(2);
  expect(second[0]).toBe("debug [early] debug now");
  expect(second[1]).toStartWith("error [late] Error: boom");

  // A logger first used after the second configuration takes it too.
  logger("fresh").info("fresh line");
  expect(second[2]).toBe("info [fresh] fresh line");
});
