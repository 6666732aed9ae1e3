#!/usr/bin/env node
// Verifies the committed minified builds in aae_tracking_plugins/static/:
//  1. they are exactly what `npm run build` (scripts/build_js.mjs) produces
//     from the sources now, rebuilt into a temp dir, file for file;
//  2. they are safe to inline inside <script>...</script>: no "</script",
//     "<script" or "<!--" (any case), which would end the element early or
//     switch the HTML parser into its script-escaped states.
// Exit code 0 on success, 1 on any problem.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const STATIC = "aae_tracking_plugins/static";
const FORBIDDEN = ["</script", "<script", "<!--"];

const problems = [];
// Build into a temp dir with the very build the project uses (build_js.mjs).
const tmp = mkdtempSync(join(tmpdir(), "aae-js-build-"));
let built = false;
try {
  try {
    execFileSync(process.execPath, [join(root, "scripts", "build_js.mjs"), "--out", tmp], {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"]
    });
    built = true;
  } catch (err) {
    problems.push(`build into ${tmp} failed: ${err.message}`);
  }
  const outputs = built ? readdirSync(tmp).sort() : [];
  const committed = readdirSync(join(root, STATIC))
    .filter((f) => f.endsWith(".js"))
    .sort();
  if (built && outputs.join() !== committed.join()) {
    problems.push(`${STATIC} holds ${JSON.stringify(committed)}, a build makes ${JSON.stringify(outputs)}`);
  }
  for (const name of committed) {
    const out = `${STATIC}/${name}`;
    const data = readFileSync(join(root, out));
    if (built && outputs.includes(name) && !readFileSync(join(tmp, name)).equals(data)) {
      problems.push(`${out} is stale (differs from a fresh build): run \`npm run build\` and commit it`);
    }
    const text = data.toString("utf8").toLowerCase();
    for (const bad of FORBIDDEN) {
      if (text.includes(bad)) {
        problems.push(`${out} contains "${bad}" (case-insensitive): unsafe to inline in <script>`);
      }
    }
    console.log(`${out}: ${data.length} bytes`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

if (problems.length) {
  for (const p of problems) console.error(`check_js_build: ${p}`);
  process.exit(1);
}
console.log("check_js_build: OK");
