// The admin console in a real browser: Debian's chromium driven by playwright-core (no
// browser download). Staff signs in through the form, finds alice's session on her user
// page, blacklists her access token from the page (confirmation step included), and then
// GET /api/me/ refuses that token. A second test: a non-staff user who signs in sees no data.
//
//   BASE_URL=http://127.0.0.1:8000 TL_ADMIN_USERNAME=admin TL_ADMIN_PASSWORD=... \
//     TL_USERNAME=alice TL_PASSWORD=... node admin_console.mjs
//
// Screenshots of every page go to SCREENSHOT_DIR (default target/ci-artifacts/admin-console).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./browser.mjs";

const baseUrl = (process.env.BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const adminName = process.env.TL_ADMIN_USERNAME ?? "admin";
const adminPassword = process.env.TL_ADMIN_PASSWORD;
const username = process.env.TL_USERNAME ?? "alice";
const password = process.env.TL_PASSWORD;
const shots = process.env.SCREENSHOT_DIR ?? "target/ci-artifacts/admin-console";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!adminPassword || !password) {
  console.error("TL_ADMIN_PASSWORD and TL_PASSWORD must be set");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

let failed = false;
const check = (ok, message) => {
  console.log(`${ok ? "ok" : "FAILED"}: ${message}`);
  if (!ok) failed = true;
};

async function api(path, { method = "GET", body, bearer } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, json, text };
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

const browser = await launchChromium(executablePath);
let step = 0;
const snap = async (page, name) => {
  step += 1;
  const path = join(shots, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot ${path}`);
};

async function signIn(page, login, secret) {
  await page.getByLabel(/Username|Email/).fill(login);
  await page.getByLabel("Password").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
}

async function staffBlacklistsAlicesAccessToken() {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  try {
    // Alice's sessions: one that rotated once (her live access token is the target), and one
    // whose rotated refresh token came back: reuse detected, the fork the lineage shows.
    const login = await api("/api/token/", { method: "POST", body: { username, password } });
    check(login.status === 200, `alice logs in (${login.status})`);
    const rotated = await api("/api/token/refresh/", {
      method: "POST",
      body: { refresh: login.json.refresh },
    });
    check(rotated.status === 200, `alice refreshes (${rotated.status})`);
    const access = rotated.json.access;
    const { jti, sid, user_id: userId } = claims(access);
    const stolen = await api("/api/token/", { method: "POST", body: { username, password } });
    await api("/api/token/refresh/", { method: "POST", body: { refresh: stolen.json.refresh } });
    const reuse = await api("/api/token/refresh/", {
      method: "POST",
      body: { refresh: stolen.json.refresh },
    });
    check(reuse.status === 401, `a rotated refresh token presented again is refused (${reuse.status})`);
    check((await api("/api/me/", { bearer: access })).status === 200, "alice's access token works");

    await page.goto(`${baseUrl}/admin/tokens/`);
    check(new URL(page.url()).pathname === "/admin/signin/", "signed out, the console shows the sign-in page");
    await snap(page, "signin");
    await signIn(page, adminName, adminPassword);
    await page.getByRole("heading", { name: "Tokens", level: 1 }).waitFor();
    check(new URL(page.url()).pathname === "/admin/tokens/", "staff lands on the tokens page");
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === "tokenledger_console");
    check(session?.httpOnly && session?.sameSite === "Strict" && session?.path === "/admin/",
      "the session cookie is httpOnly, SameSite=Strict, Path=/admin/");
    check(await page.evaluate(() => !document.cookie.includes("tokenledger_console")),
      "page scripts cannot read the session cookie");
    await snap(page, "tokens");

    await page.getByLabel("User (name or id)").fill(username);
    await page.getByLabel("Type").selectOption("access");
    await page.getByLabel("State").selectOption("outstanding");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator(`tr[data-jti="${jti}"]`).waitFor();
    check(true, "the filtered tokens page lists alice's access token");
    await snap(page, "tokens-filtered");

    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByLabel("Username contains").fill(username);
    await page.getByRole("button", { name: "Search" }).click();
    await snap(page, "users");
    await page.getByRole("link", { name: username, exact: true }).click();
    await page.getByRole("heading", { name: new RegExp(`^${username}`), level: 1 }).waitFor();
    const sessionBox = page.locator(`section[data-sid="${sid}"]`);
    await sessionBox.waitFor();
    check(await sessionBox.locator("svg[role=img]").count() === 1, "alice's session has its lineage graph");
    check(await page.locator("svg .node.reuse").count() >= 1, "the reused session shows a reuse-detected node");
    await snap(page, "user");

    await sessionBox.locator(`tr[data-jti="${jti}"]`).getByRole("link", { name: /^Blacklist/ }).click();
    await page.getByRole("heading", { name: "Blacklist this token?" }).waitFor();
    await snap(page, "confirm-blacklist");
    await page.getByRole("button", { name: "Blacklist" }).click();
    await page.getByText("The token is blacklisted.").waitFor();
    const state = await page.locator(`section[data-sid="${sid}"] tr[data-jti="${jti}"]`).getAttribute("data-state");
    check(state === "blacklisted", `the user page shows the token blacklisted (${state})`);
    await snap(page, "blacklisted");

    const me = await api("/api/me/", { bearer: access });
    check(me.status === 401 && me.json?.messages?.[0]?.message === "Token is blacklisted",
      `GET /api/me/ refuses the token: ${me.status} ${me.text}`);

    await page.goto(`${baseUrl}/admin/ledger/?user_id=${userId}`);
    check(await page.locator("span.event.reuse_detected").count() >= 1, "the ledger page lists the reuse");
    await snap(page, "ledger");
    await page.getByLabel("User (name or id)").fill(username);
    await page.getByRole("button", { name: "Show" }).click();
    await page.getByText("Replayed from the ledger").waitFor();
    await snap(page, "ledger-instant");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out").waitFor();
    await snap(page, "signed-out");
    await page.goto(`${baseUrl}/admin/users/${userId}/`);
    check(new URL(page.url()).pathname === "/admin/signin/", "after sign-out the pages show the sign-in page");
  } catch (error) {
    failed = true;
    console.error(`FAILED: ${error.message}`);
    await snap(page, "failure").catch(() => {});
  } finally {
    await context.close();
  }
}

async function nonStaffSeesNoData() {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  try {
    await page.goto(`${baseUrl}/admin/signin/`);
    await signIn(page, username, password);
    await page.getByText("Only staff accounts").waitFor();
    check(await page.locator("table, nav").count() === 0, "a non-staff sign-in shows no data");
    check((await context.cookies()).every((cookie) => cookie.name !== "tokenledger_console"),
      "and sets no session cookie");
    await snap(page, "non-staff");
    for (const path of ["/admin/tokens/", "/admin/users/", "/admin/ledger/"]) {
      await page.goto(`${baseUrl}${path}`);
      check(new URL(page.url()).pathname === "/admin/signin/", `${path} shows the sign-in page`);
    }
  } catch (error) {
    failed = true;
    console.error(`FAILED: ${error.message}`);
    await snap(page, "failure-non-staff").catch(() => {});
  } finally {
    await context.close();
  }
}

try {
  await staffBlacklistsAlicesAccessToken();
  await nonStaffSeesNoData();
} finally {
  await browser.close();
}
console.log(failed ? "admin-console: FAILED" : "admin-console: passed");
process.exit(failed ? 1 : 0);
