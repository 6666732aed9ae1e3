#!/usr/bin/env node
// Builds the browser scripts in aae_tracking_plugins/static/ from the ES
// modules in aae_tracking_plugins/js/: esbuild bundles each entry (one IIFE,
// compile-time feature flags, dead branches dropped), terser minifies it
// (esbuild's own minifier gives ~6 % more gzip bytes on this code).
//
//   node scripts/build_js.mjs [--out DIR]   (default: aae_tracking_plugins/static)
//
// Variants: a site ships only what its settings enable. Each variant is one
// set of flags; the Python side picks the file by the site's settings.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { minify } from "terser";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "aae_tracking_plugins", "js");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "aae_tracking_plugins", "static");

// Every combination of the feature flags, named
// tracker[.batch][.pixel][.vitals][.checkout].min.js
// (snippet.tracker_variant() picks one by the site's settings).
const FLAGS = ["BATCH", "PIXEL", "VITALS", "CHECKOUT"];
export const VARIANTS = [{ file: "stub.min.js", entry: "stub.js", flags: {} }];
for (let bits = 0; bits < 2 ** FLAGS.length; bits++) {
  const flags = Object.fromEntries(FLAGS.map((flag, i) => [flag, Boolean(bits & (1 << i))]));
  const name = ["tracker", ...FLAGS.filter((flag) => flags[flag]).map((flag) => flag.toLowerCase())];
  VARIANTS.push({ file: name.join(".") + ".min.js", entry: "tracker.js", flags });
}
// Not the tracker: the live updates of the stored collector's dashboard
// (collector/dashboard.py serves it; no flags).
VARIANTS.push({ file: "dashboard.min.js", entry: "dashboard.js", flags: {} });

mkdirSync(out, { recursive: true });
for (const variant of VARIANTS) {
  const bundled = await build({
    entryPoints: [join(src, variant.entry)],
    bundle: true,
    write: false,
    format: "iife",
    target: "es2017",
    legalComments: "none",
    define: Object.fromEntries(Object.entries(variant.flags).map(([k, v]) => [k, JSON.stringify(v)]))
  });
  const result = await minify(bundled.outputFiles[0].text, {
    ecma: 2017,
    // inline: 1 (only simple functions): ~5-8 B less gzip than the default 3.
    compress: { passes: 3, unsafe_arrows: true, inline: 1 },
    mangle: true,
    format: { comments: false }
  });
  writeFileSync(join(out, variant.file), result.code);
}
