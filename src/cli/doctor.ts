/**
 * `crabtalk doctor [--json] [--offline] [--fix]`: checks the home and its
 * permissions, the config, each provider (one cheap request; skipped with
 * --offline), the daemon and its version, stale socket/port/lock files, the
 * services, disk space and the systemd unit, and says how to fix each
 * finding. `--fix` repairs what is safe (modes of the daemon's own folders
 * and config, stale files). Exit 0 when nothing failed, 1 otherwise.
 */
import { defineCommand } from "citty";
import { pathsFor, resolveHome } from "../config/paths.ts";
import {
  checkConfig,
  checkDaemon,
  checkDisk,
  checkHome,
  checkProvider,
  checkRuntimeFiles,
  checkSystemd,
  type Finding,
} from "./doctor-checks.ts";
import { colorEnabled, makeStyle } from "./render/style.ts";
import { CliFailure, printJson } from "./shared.ts";

export async function runChecks(env: Record<string, string | undefined>, offline: boolean): Promise<Finding[]> {
  const paths = pathsFor(resolveHome(env));
  const findings: Finding[] = [...checkHome(paths)];
  const { finding, config } = checkConfig(paths, env);
  findings.push(finding);
  if (config && !offline) findings.push(...(await Promise.all(config.providers.map(checkProvider))));
  else if (config) findings.push({ check: "providers", status: "skip", detail: "--offline" });
  const files = checkRuntimeFiles(paths);
  findings.push(...files.findings);
  if (files.running) findings.push(...(await checkDaemon(paths)));
  else
    findings.push({
      check: "daemon",
      status: "fail",
      detail: "not running",
      fix: "start it with `crabtalk daemon` (or systemctl start crabtalk)",
    });
  findings.push(...checkDisk(paths), ...checkSystemd(env));
  return findings;
}

export const doctorCommand = defineCommand({
  meta: {
    name: "doctor",
    description:
      "Check the home, config, providers, daemon, stale files, services, disk and systemd unit, and say how to fix each problem. --fix repairs what is safe (permissions, stale socket/port/lock files). Exit 0 when all pass, 1 otherwise.",
  },
  args: {
    json: { type: "boolean", description: "Print the findings as a JSON array" },
    offline: { type: "boolean", description: "Skip the provider checks (no network requests)" },
    fix: { type: "boolean", description: "Repair what is safe to repair, then report" },
  },
  async run({ args }) {
    const findings = await runChecks(process.env, args.offline === true);
    if (args.fix) {
      for (const f of findings) {
        if (!f.repair) continue;
        try {
          f.repair();
          f.repaired = true;
          f.status = "ok";
          f.detail = `repaired: ${f.detail}`;
        } catch (err) {
          f.detail = `${f.detail} (repair failed: ${(err as Error).message})`;
        }
      }
    }
    const failed = findings.some((f) => f.status === "fail");
    if (args.json) {
      printJson(findings.map(({ repair: _r, ...f }) => ({ ...f, repairable: _r !== undefined && !f.repaired })));
    } else {
      const style = makeStyle(colorEnabled(process.stdout.isTTY === true));
      const mark = {
        ok: style.paint("green", "ok  "),
        warn: style.paint("yellow", "warn"),
        fail: style.paint("red", "FAIL"),
        skip: style.paint("dim", "skip"),
      };
      for (const f of findings) {
        process.stdout.write(`${mark[f.status]}  ${f.check}: ${f.detail}\n`);
        if (f.fix && f.status !== "ok")
          process.stdout.write(
            `      fix: ${f.fix}${f.repair && !f.repaired ? " (crabtalk doctor --fix does this)" : ""}\n`,
          );
      }
    }
    if (failed) throw new CliFailure("doctor found problems (see above)");
  },
});
