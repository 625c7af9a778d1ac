// A browser app on another origin with tokenledger's refresh cookie, in Debian's chromium
// (playwright-core): log in, reload (the access token is gone from memory), get a new one
// through the HttpOnly cookie, call /api/me/, check document.cookie never shows the refresh
// token, submit a forged cross-site form (403, nothing changes), log out (cookies cleared).
//
//   SPA_URL=http://127.0.0.1:5173 FORGED_URL=http://127.0.0.1:5174 BASE_URL=http://127.0.0.1:8000 \
//     TL_USERNAME=alice TL_PASSWORD=... node spa.mjs
//
// The server runs with TOKENLEDGER_REFRESH_COOKIE=tl_refresh, TOKENLEDGER_COOKIE_SECURE=false
// and SPA_URL in TOKENLEDGER_CORS_ORIGINS. Screenshots go to SCREENSHOT_DIR.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./browser.mjs";

const baseUrl = (process.env.BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const spaUrl = (process.env.SPA_URL ?? "http://127.0.0.1:5173").replace(/\/$/, "");
const forgedUrl = (process.env.FORGED_URL ?? "http://127.0.0.1:5174").replace(/\/$/, "");
const username = process.env.TL_USERNAME ?? "alice";
const password = process.env.TL_PASSWORD;
const shots = process.env.SCREENSHOT_DIR ?? "target/ci-artifacts/spa";
if (!password) {
  console.error("TL_PASSWORD is not set");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await launchChromium(process.env.CHROMIUM ?? "/usr/bin/chromium");
const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
let step = 0;
const snap = async (name) => {
  step += 1;
  const path = join(shots, `${String(step).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot ${path}`);
};
const fail = async (message) => {
  console.error(`FAILED: ${message}`);
  await snap("failure").catch(() => {});
  await browser.close();
  process.exit(1);
};
const expectText = async (id, pattern, what) => {
  try {
    await page.waitForFunction(
      ([id, source]) => new RegExp(source).test(document.getElementById(id).textContent),
      [id, pattern.source],
    );
  } catch {
    await fail(`${what}: #${id} is ${JSON.stringify(await page.locator(`#${id}`).innerText())}`);
  }
};
// Every cookie of the jar (a URL filter would leave out the one scoped to /api/token/).
const refreshCookie = async () =>
  (await context.cookies()).find((c) => c.name === "tl_refresh" && c.value !== "");
const refreshCalls = [];
page.on("response", (r) => {
  if (r.url().endsWith("/api/token/refresh/")) refreshCalls.push(r.status());
});

const app = `${spaUrl}/index.html?api=${encodeURIComponent(baseUrl)}`;
await page.goto(app);
await page.waitForSelector("body[data-ready=true]");
await expectText("status", /logged out/, "a fresh browser has no session");
await page.fill("input[name=username]", username);
await page.fill("input[name=password]", password);
await page.click("#login-button");
await expectText("me", new RegExp(`"username":"${username}"`), "after login, /api/me/");
await snap("logged-in");

const cookie = await refreshCookie();
if (!cookie) await fail("no tl_refresh cookie after login");
if (!cookie.httpOnly || cookie.sameSite !== "Strict" || cookie.path !== "/api/token/") {
  await fail(`tl_refresh cookie attributes: ${JSON.stringify(cookie)}`);
}
const visible = await page.evaluate(() => document.cookie);
if (visible.includes(cookie.value) || /(^|; )tl_refresh=/.test(visible)) {
  await fail(`document.cookie shows the refresh token: ${visible}`);
}
if (!/tl_refresh_csrf=/.test(visible)) await fail(`no readable CSRF cookie: ${visible}`);
console.log(`document.cookie: ${visible.replace(/=[^;]+/g, "=…")}`);

// Reload: the access token was only in memory; the cookie brings a new one.
await page.reload();
await page.waitForSelector("body[data-ready=true]");
await expectText("status", /refreshed through the cookie/, "after reload");
await expectText("me", new RegExp(`"username":"${username}"`), "after reload, /api/me/");
if (refreshCalls.at(-1) !== 200) await fail(`refresh after reload: ${refreshCalls}`);
await snap("reloaded-refreshed-through-cookie");
const rotated = await refreshCookie();
if (!rotated || rotated.value === cookie.value) await fail("the refresh cookie was not rotated");

// A forged cross-site form post: the cookie goes along, the CSRF header cannot. 403.
const forged = await context.newPage();
const answer = forged.waitForResponse((r) => r.url().startsWith(`${baseUrl}/api/token/refresh/`));
await forged.goto(`${forgedUrl}/index.html?api=${encodeURIComponent(baseUrl)}`);
const forgedStatus = (await answer).status();
await forged.waitForLoadState();
step += 1;
await forged.screenshot({ path: join(shots, `${String(step).padStart(2, "0")}-forged-post-403.png`) });
if (forgedStatus !== 403) await fail(`the forged cross-site POST answered ${forgedStatus}`);
await forged.close();
const after = await refreshCookie();
if (!after || after.value !== rotated.value) await fail("the forged POST changed the cookie");

// Nothing changed: the same cookie still refreshes.
await page.reload();
await page.waitForSelector("body[data-ready=true]");
await expectText("status", /refreshed through the cookie/, "after the forged POST");

// Logout through the cookie: both cookies cleared; a reload finds no session.
await page.click("#logout-button");
await expectText("status", /^logged out$/, "logout");
if (await refreshCookie()) await fail("the refresh cookie survived the logout");
await snap("logged-out");
await page.reload();
await page.waitForSelector("body[data-ready=true]");
await expectText("status", /logged out/, "after logout and reload");
await expectText("me", /nobody/, "after logout and reload, /api/me/");
await snap("reloaded-after-logout");

await browser.close();
console.log("spa: login, reload + cookie refresh, /api/me/, forged POST refused, logout: ok");
