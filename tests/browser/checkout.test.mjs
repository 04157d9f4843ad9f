// Drives examples/web/ in Debian's headless Chromium (through playwright-core) against
// `mpesa-stk serve --static` + `mpesa-stk simulate` + PostgreSQL, and saves a screenshot
// of each final state. Everything listens on 127.0.0.1; the browser is kept off the network.
//
// Environment (set by ctest, see CMakeLists.txt):
//   MPESA_STK_BIN            the mpesa-stk executable
//   MPESA_WEB_DIR            examples/web
//   MPESA_TEST_DATABASE_URL  a PostgreSQL URI; the test creates and drops its own database
//   MPESA_BROWSER_OUTPUT     folder for screenshots and the server logs
//   CHROMIUM_PATH            default /usr/bin/chromium

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";

const env = process.env;
const stkBin = required("MPESA_STK_BIN");
const webDir = required("MPESA_WEB_DIR");
const adminUrl = required("MPESA_TEST_DATABASE_URL");
const outputDir = env.MPESA_BROWSER_OUTPUT ?? path.resolve("browser-output");
const chromiumPath = env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const callbackSecret = "browser-test-secret-7f3a9c1e5b";

const children = [];
let databaseUrl;
let databaseName;
let apiPort;
let context;
let workDir;

function required(name) {
  if (!env[name]) throw new Error(`${name} is not set: run this test through ctest (scripts/test)`);
  return env[name];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function psql(url, sql) {
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql], { encoding: "utf8" }).trim();
}

function startProcess(name, args, extraEnv) {
  const log = openSync(path.join(outputDir, `${name}.log`), "w");
  const child = spawn(stkBin, args, { env: { ...env, ...extraEnv }, stdio: ["ignore", log, log] });
  children.push(child);
  child.once("exit", (code, signal) => {
    child.exited = true;
    if (code !== 0 && signal !== "SIGTERM") console.error(`${name} exited with ${code ?? signal}; see ${name}.log`);
  });
  return child;
}

async function waitFor(description, check, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${description}`);
}

before(async () => {
  mkdirSync(outputDir, { recursive: true });
  workDir = mkdtempSync(path.join(tmpdir(), "mpesa-browser-"));

  // A database of its own, so this test never meets the rows of the C++ tests.
  databaseName = `mpesa_browser_${process.pid}`;
  psql(adminUrl, `DROP DATABASE IF EXISTS ${databaseName}`);
  psql(adminUrl, `CREATE DATABASE ${databaseName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  databaseUrl = url.toString();

  const [simulatorPort, callbackPort, port] = await Promise.all([freePort(), freePort(), freePort()]);
  apiPort = port;
  const daraja = { MPESA_CONSUMER_KEY: "browser-consumer-key", MPESA_CONSUMER_SECRET: "browser-consumer-secret" };
  const simulator = startProcess("simulator", [
    "simulate", "--listen", `127.0.0.1:${simulatorPort}`, "--answer-delay-ms", "1500", "--callback-delay-ms", "100",
  ], daraja);
  await waitFor("the simulator", () => fetch(`http://127.0.0.1:${simulatorPort}/simulator/pushes`).then((r) => r.ok));

  const server = startProcess("serve", ["serve", "--migrate"], {
    ...daraja,
    MPESA_SHORTCODE: "174379",
    MPESA_PASSKEY: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    MPESA_BASE_URL: `http://127.0.0.1:${simulatorPort}`,
    MPESA_CALLBACK_URL: `http://127.0.0.1:${callbackPort}/mpesa/callback/${callbackSecret}`,
    MPESA_CALLBACK_SECRET: callbackSecret,
    MPESA_CALLBACK_LISTEN: `127.0.0.1:${callbackPort}`,
    MPESA_API_LISTEN: `127.0.0.1:${apiPort}`,
    MPESA_ALLOWED_IPS: "127.0.0.1",
    MPESA_DATABASE_URL: databaseUrl,
    MPESA_SPOOL_PATH: path.join(workDir, "spool.log"),
    MPESA_STATIC_DIR: webDir,
    MPESA_PUBLIC_CHECKOUT: "1",
    MPESA_CHECKOUT_RATE_LIMIT: "0",
    MPESA_RECONCILE_AFTER: "2",
    MPESA_PAYMENT_DEADLINE: "60",
  });
  await waitFor("mpesa-stk serve", async () => {
    if (server.exited || simulator.exited) throw new Error("a process exited; see its log in " + outputDir);
    return (await fetch(`http://127.0.0.1:${apiPort}/readyz`)).ok;
  });

  context = await chromium.launchPersistentContext(path.join(workDir, "chromium-profile"), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 480, height: 720 },
  });
});

after(async () => {
  await context?.close();
  for (const child of children) if (!child.exited) child.kill("SIGTERM");
  await Promise.all(children.map((child) => child.exited ? null : new Promise((resolve) => child.once("exit", resolve))));
  if (databaseName) psql(adminUrl, `DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// Opens the page, counting status requests in flight so the test can prove there is never
// more than one at a time.
async function openCheckout(query = "") {
  const page = await context.newPage();
  const tracker = { inFlight: 0, maxInFlight: 0, statusRequests: 0 };
  const isStatus = (request) => request.url().includes("/api/payments/");
  page.on("request", (request) => {
    if (!isStatus(request)) return;
    tracker.statusRequests += 1;
    tracker.inFlight += 1;
    tracker.maxInFlight = Math.max(tracker.maxInFlight, tracker.inFlight);
  });
  const done = (request) => { if (isStatus(request)) tracker.inFlight -= 1; };
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  await page.goto(`http://127.0.0.1:${apiPort}/${query}`);
  return { page, tracker };
}

async function pay(page, phone, amount) {
  await page.fill("#phone", phone);
  await page.fill("#amount", String(amount));
  await page.click("#pay");
}

async function finalState(page, state, screenshot) {
  await page.waitForSelector(`#app[data-state="${state}"]`, { timeout: 30000 });
  await page.screenshot({ path: path.join(outputDir, screenshot), fullPage: true });
}

function latestPayment(phone) {
  const row = psql(databaseUrl,
    `SELECT status || '|' || coalesce(learnt_via, '') FROM stk_payments WHERE phone = '${phone}' ORDER BY id DESC LIMIT 1`);
  const [status, learntVia] = row.split("|");
  return { status, learntVia };
}

test("a successful payment shows the receipt", async () => {
  const { page, tracker } = await openCheckout("?lang=en");
  await pay(page, "0708374149", 10);
  await page.waitForSelector('#app[data-state="waiting"]');
  assert.match(await page.textContent("#waiting-message"), /enter your M-Pesa PIN/);
  await finalState(page, "succeeded", "success.png");
  assert.match(await page.textContent("#receipt"), /^[A-Z0-9]{10}$/);
  assert.match(await page.textContent("#success-message"), /Payment received/);
  assert.equal(tracker.maxInFlight, 1);
  assert.equal(latestPayment("254708374149").learntVia, "callback");
  await page.close();
});

test("a cancelled payment says so in Swahili and offers a retry", async () => {
  const { page } = await openCheckout("?lang=en");
  await page.click('.lang[data-lang="sw"]');
  assert.equal(await page.textContent("#pay"), "Lipa");
  await pay(page, "0708374102", 10);
  await finalState(page, "failed", "cancelled-sw.png");
  assert.match(await page.textContent("#failure-message"), /Umeghairi malipo/);
  await page.click('[data-panel="failed"] [data-action="retry"]');
  await page.waitForSelector('#app[data-state="form"]');
  await page.close();
});

test("a timed-out prompt explains the timeout and the SIM card hint", async () => {
  const { page } = await openCheckout("?lang=en");
  await pay(page, "0708374103", 10);
  await finalState(page, "failed", "timed-out.png");
  assert.match(await page.textContent("#failure-message"), /did not answer in time.*SIM card/);
  assert.equal(latestPayment("254708374103").status, "timed_out");
  await page.close();
});

test("a payment whose callback is lost is settled by the reconciler and shown as succeeded", async () => {
  const { page, tracker } = await openCheckout("?lang=en");
  await pay(page, "0708374110", 20);
  await finalState(page, "succeeded", "lost-callback-reconciled.png");
  assert.deepEqual(latestPayment("254708374110"), { status: "succeeded", learntVia: "query" });
  assert.equal(tracker.maxInFlight, 1);
  await page.close();
});

test("the page survives failed status requests and still reaches the result", async () => {
  const { page, tracker } = await openCheckout("?lang=en");
  let refused = 0;
  await page.route("**/api/payments/**", (route) => (refused++ < 2 ? route.abort("connectionreset") : route.continue()));
  await pay(page, "0708374148", 10);
  await page.waitForSelector("#network-notice:not([hidden])");
  await finalState(page, "succeeded", "after-network-errors.png");
  assert.ok(refused >= 3, `expected the status route to be retried, saw ${refused} requests`);
  assert.equal(tracker.maxInFlight, 1);
  await page.close();
});

test("past the page's maximum wait it asks the customer to check M-Pesa messages", async () => {
  const { page } = await openCheckout("?lang=en&max_wait=1");
  await pay(page, "0708374147", 10);
  await finalState(page, "unconfirmed", "unconfirmed.png");
  assert.match(await page.textContent('[data-panel="unconfirmed"] p'), /could not confirm your payment yet; check your M-Pesa messages/);
  await page.click('[data-action="check"]');
  await page.waitForSelector('#app[data-state="succeeded"]', { timeout: 30000 });
  await page.close();
});

// Sets what document.hidden reports and fires visibilitychange, as a browser does when the
// customer switches tabs.
async function setHidden(page, hidden) {
  await page.evaluate((value) => {
    Object.defineProperty(document, "hidden", { value, configurable: true });
    Object.defineProperty(document, "visibilityState", { value: value ? "hidden" : "visible", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

test("a hidden tab sends no status requests and catches up when shown", async () => {
  const { page, tracker } = await openCheckout("?lang=en");
  await pay(page, "0708374146", 10);
  await page.waitForSelector('#app[data-state="waiting"]');
  await setHidden(page, true);
  await waitFor("the held poll to be aborted", async () => tracker.inFlight === 0, 5000);
  const before = tracker.statusRequests;
  // Longer than the simulated customer's answer plus the callback, so the payment settles meanwhile.
  await page.waitForTimeout(4000);
  assert.equal(tracker.statusRequests, before);
  assert.equal(await page.getAttribute("#app", "data-state"), "waiting");
  await setHidden(page, false);
  await finalState(page, "succeeded", "after-hidden-tab.png");
  assert.equal(tracker.maxInFlight, 1);
  await page.close();
});
