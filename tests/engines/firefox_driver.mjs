// Firefox ESR driven by puppeteer-core over WebDriver BiDi (no geckodriver), step by step from
// Python (tests/engines/firefox.py).
//
// Protocol: one JSON object per line.
//   stdout, first line: {"ready": true, "version": "firefox/153.8.0", "pid": <browser pid>}
//                    or {"ready": false, "error": "..."} (then the process exits 1).
//   stdin:  {"id": 1, "op": "goto", "url": "..."}       -> page.goto(url), waits for "load"
//           {"id": 2, "op": "click", "css": "..."}      -> page.click(css) (trusted input)
//           {"id": 3, "op": "eval", "js": "1 + 1"}      -> value of the expression (JSON)
//           {"id": 4, "op": "back"}                     -> page.goBack(), waits for "load"
//           {"id": 5, "op": "url"}                      -> page.url()
//           {"id": 6, "op": "reset"}                    -> a new browser context and page
//           {"id": 7, "op": "errors"}                   -> page errors since the last call
//           {"id": 8, "op": "close"}                    -> closes Firefox, then exits 0
//   stdout: {"id": N, "ok": true, "value": ...} or {"id": N, "ok": false, "error": "..."}
// Commands run one at a time, in order.  When stdin closes (the Python side went away) Firefox
// is closed and the process exits, so no browser outlives its test run.
//
// Environment: FIREFOX (default /usr/bin/firefox-esr), AAE_FIREFOX_PROFILE (the profile
// directory: the Python side makes it, finds a stray Firefox by it and deletes it),
// AAE_ENGINE_TIMEOUT_MS (one step, default 15000), AAE_ENGINE_LAUNCH_TIMEOUT_MS (default 30000),
// AAE_FIREFOX_PREFS (a JSON object of Firefox preferences set at launch, default none).
/* global process */
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const executablePath = process.env.FIREFOX || "/usr/bin/firefox-esr";
const userDataDir = process.env.AAE_FIREFOX_PROFILE || undefined;
const timeout = Number(process.env.AAE_ENGINE_TIMEOUT_MS || 15000);
const launchTimeout = Number(process.env.AAE_ENGINE_LAUNCH_TIMEOUT_MS || 30000);

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function describe(error) {
  return error && error.message ? error.message : String(error);
}

let browser;
try {
  browser = await puppeteer.launch({
    browser: "firefox",
    executablePath,
    userDataDir,
    headless: true,
    timeout: launchTimeout,
    protocolTimeout: Math.max(launchTimeout, timeout),
    extraPrefsFirefox: JSON.parse(process.env.AAE_FIREFOX_PREFS || "{}")
  });
} catch (error) {
  send({ ready: false, error: `could not launch ${executablePath}: ${describe(error)}` });
  process.exit(1);
}

let context;
let page;
let errors = [];

async function reset() {
  if (context) {
    await context.close();
  }
  context = await browser.createBrowserContext();
  page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.setDefaultNavigationTimeout(timeout);
  page.on("pageerror", (error) => errors.push(`pageerror: ${describe(error)}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      errors.push(`console.error: ${message.text()}`);
    }
  });
  errors = [];
}

async function shutdown(code) {
  try {
    await browser.close();
  } finally {
    process.exit(code);
  }
}

const operations = {
  goto: async ({ url }) => {
    await page.goto(url, { waitUntil: "load" });
  },
  click: async ({ css }) => {
    await page.click(css);
  },
  eval: async ({ js }) => page.evaluate(js),
  back: async () => {
    await page.goBack({ waitUntil: "load" });
  },
  url: async () => page.url(),
  reset,
  errors: async () => {
    const seen = errors;
    errors = [];
    return seen;
  }
};

try {
  await reset();
} catch (error) {
  send({ ready: false, error: `Firefox started but has no page: ${describe(error)}` });
  await shutdown(1);
}
send({ ready: true, version: await browser.version(), pid: browser.process()?.pid ?? null });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) {
    continue;
  }
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    send({ id: null, ok: false, error: `not JSON: ${describe(error)}` });
    continue;
  }
  if (command.op === "close") {
    send({ id: command.id, ok: true, value: null });
    await shutdown(0);
  }
  const operation = operations[command.op];
  if (!operation) {
    send({ id: command.id, ok: false, error: `unknown op ${JSON.stringify(command.op)}` });
    continue;
  }
  try {
    const value = await operation(command);
    send({ id: command.id, ok: true, value: value === undefined ? null : value });
  } catch (error) {
    send({ id: command.id, ok: false, error: describe(error) });
  }
}
await shutdown(0);
