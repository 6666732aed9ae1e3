// Flat config. The tracker sources are ES modules, bundled by
// scripts/build_js.mjs into classic scripts; ES2017 is the floor we target.
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
  js.configs.recommended,
  {
    files: ["aae_tracking_plugins/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2017,
      sourceType: "module",
      // BATCH, PIXEL, VITALS, CHECKOUT: compile-time feature flags (scripts/build_js.mjs VARIANTS).
      globals: { ...globals.browser, BATCH: "readonly", PIXEL: "readonly", VITALS: "readonly", CHECKOUT: "readonly" }
    },
    rules: {
      // Swallowing errors is the point: the tracker must never throw into the page.
      "no-empty": ["error", { allowEmptyCatch: true }],
      "no-unused-vars": ["error", { caughtErrors: "none" }]
    }
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.node }
    }
  }
];
