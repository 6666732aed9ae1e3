#!/usr/bin/env node
// Verifies the committed minified builds in aae_tracking_plugins/static/:
//  1. they are exactly what `npm run build` produces from the sources now
//     (rebuilt into a temp dir with the very same command line, read from
//     package.json, so the two can never drift apart);
//  2. they are safe to inline inside <script>...</script>: no "</script",
//     "<script" or "<!--" (any case), which would end the element early or
//     switch the HTML parser into its script-escaped states.
// Exit code 0 on success, 1 on any problem.
import { execSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUTS = [
  "aae_tracking_plugins/static/stub.min.js",
  "aae_tracking_plugins/static/tracker.min.js",
];
const FORBIDDEN = ["</script", "<script", "<!--"];

const problems = [];
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const build = pkg.scripts && pkg.scripts.build;
if (!build) {
  console.error("check_js_build: package.json has no \"build\" script");
  process.exit(1);
}

// Redirect every `-o <path>` / `--output <path>` of the build command to the
// temp dir; insist the outputs are exactly the two committed files.
const tmp = mkdtempSync(join(tmpdir(), "aae-js-build-"));
const seen = [];
const tmpBuild = build.replace(/(\s(?:-o|--output)\s+)(\S+)/g, (_m, flag, out) => {
  seen.push(out);
  return flag + JSON.stringify(join(tmp, basename(out)));
});
if (seen.slice().sort().join() !== OUTPUTS.slice().sort().join()) {
  problems.push(`build script outputs ${JSON.stringify(seen)}, expected ${JSON.stringify(OUTPUTS)}`);
}

let built = false;
try {
  if (!problems.length) {
    try {
      execSync(tmpBuild, {
        cwd: root,
        stdio: ["ignore", "inherit", "inherit"],
        env: {
          ...process.env,
          PATH: join(root, "node_modules", ".bin") + delimiter + (process.env.PATH || ""),
        },
      });
      built = true;
    } catch (err) {
      problems.push(`build into ${tmp} failed: ${err.message}`);
    }
  }

  for (const out of OUTPUTS) {
    let committed;
    try {
      committed = readFileSync(join(root, out));
    } catch {
      problems.push(`${out} is missing: run \`npm run build\``);
      continue;
    }
    if (built) {
      let fresh = null;
      try {
        fresh = readFileSync(join(tmp, basename(out)));
      } catch {
        problems.push(`build did not produce ${basename(out)}`);
      }
      if (fresh && !fresh.equals(committed)) {
        problems.push(`${out} is stale (differs from a fresh build): run \`npm run build\` and commit it`);
      }
    }
    const text = committed.toString("utf8").toLowerCase();
    for (const bad of FORBIDDEN) {
      if (text.includes(bad)) {
        problems.push(`${out} contains "${bad}" (case-insensitive): unsafe to inline in <script>`);
      }
    }
    console.log(`${out}: ${committed.length} bytes`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

if (problems.length) {
  for (const p of problems) console.error(`check_js_build: ${p}`);
  process.exit(1);
}
console.log("check_js_build: OK");
