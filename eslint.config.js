// Flat config. The tracker sources are ES modules, bundled by
// scripts/build_js.mjs into classic scripts; ES2017 is the floor we target.
// Formatting is Prettier's (.prettierrc.json, `npm run format`); these rules
// are about the dialect.
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
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      // The tracker's dialect: `var` only, and == / != only. Both give the
      // smaller build: esbuild keeps let/const inside functions and no
      // minifier turns them back (all `var` as `let`: default build +24 B,
      // +5 B gzip; const is longer still), and == is a byte shorter than ===.
      // Every comparison in the tracker is between values of known types, or
      // against null meaning "null or undefined", so == says what === would.
      // Where it does not, disable the rule on that line and say why.
      "no-var": "off",
      "prefer-const": "off",
      "no-restricted-syntax": [
        "error",
        { selector: "VariableDeclaration[kind!='var']", message: "The tracker uses var (see eslint.config.js)." },
        {
          selector: "BinaryExpression[operator=/^[!=]==$/]",
          message: "The tracker uses == and != (see eslint.config.js)."
        }
      ],
      // Real names: at least 2 characters (the minifier shortens them anyway).
      // Property names are not checked: they are wire fields, dataset keys and
      // public names (AAE_TRACKING.q/u/r of the stub), kept as they are.
      "id-length": ["error", { min: 2, properties: "never" }],
      // camelCase for our own names; wire fields (event_id, button_text...)
      // are properties and stay snake_case.
      camelcase: ["error", { properties: "never" }]
    }
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.node }
    },
    rules: {
      // Node scripts: size does not matter, so the modern dialect.
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: ["error", "always"]
    }
  }
];
