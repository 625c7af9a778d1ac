// Swagger UI in a real browser: Debian's chromium driven by playwright-core (no browser
// download). Logs in through "Try it out" on POST /api/token/, puts the access token into
// Authorize (bearerAuth), then runs GET /api/me/ and expects 200 with the user's JSON.
//
//   BASE_URL=http://127.0.0.1:8000 TL_USERNAME=alice TL_PASSWORD=... node swagger_ui.mjs
//
// Screenshots go to SCREENSHOT_DIR (default target/ci-artifacts/swagger-ui).

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./browser.mjs";

const baseUrl = (process.env.BASE_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const username = process.env.TL_USERNAME ?? "alice";
const password = process.env.TL_PASSWORD;
const shots = process.env.SCREENSHOT_DIR ?? "target/ci-artifacts/swagger-ui";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!password) {
  console.error("TL_PASSWORD is not set");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await launchChromium(executablePath);
let step = 0;
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.setDefaultTimeout(15_000);
const snap = async (name, locator = page) => {
  step += 1;
  const path = join(shots, `${String(step).padStart(2, "0")}-${name}.png`);
  await locator.screenshot({ path, ...(locator === page ? { fullPage: false } : {}) });
  console.log(`screenshot ${path}`);
};

// Try it out on one operation with an optional JSON body; returns [status, body text].
async function tryItOut(operation, body) {
  const block = page.locator(operation);
  await block.locator(".opblock-summary").first().click();
  await block.getByRole("button", { name: "Try it out" }).click();
  if (body !== undefined) {
    await block.locator("textarea.body-param__text").fill(JSON.stringify(body, null, 2));
  }
  await block.getByRole("button", { name: "Execute" }).click();
  const live = block.locator(".live-responses-table .response").first();
  const status = (await live.locator(".response-col_status").innerText()).trim();
  const text = await live.locator(".response-col_description .highlight-code pre").first().innerText();
  await live.scrollIntoViewIfNeeded();
  return [status, text, block];
}

let failed = false;
const check = (ok, message) => {
  console.log(`${ok ? "ok" : "FAILED"}: ${message}`);
  if (!ok) failed = true;
};

try {
  await page.goto(`${baseUrl}/swagger-ui/`);
  await page.locator(".information-container .title").waitFor();
  check((await page.locator(".information-container .title").innerText()).includes("tokenledger"),
    "Swagger UI shows the tokenledger document");
  await snap("swagger-ui");

  const [loginStatus, loginText, loginBlock] = await tryItOut("#operations-tokens-obtain_pair", {
    username,
    password,
  });
  await snap("login-response", loginBlock);
  check(loginStatus === "200", `POST /api/token/ answered ${loginStatus}`);
  const pair = JSON.parse(loginText);
  check(typeof pair.access === "string" && pair.access.split(".").length === 3,
    "the login response holds an access token");

  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".modal-ux");
  const bearer = dialog.locator(".auth-container").filter({ hasText: "bearerAuth" });
  await bearer.locator("input").fill(pair.access);
  await snap("authorize-dialog", dialog.locator(".modal-ux-inner"));
  await dialog.locator(".auth-btn-wrapper button.authorize").click();
  await bearer.getByText("Authorized").waitFor();
  check(true, "Authorize accepted the bearer token");
  await snap("authorized", dialog.locator(".modal-ux-inner"));
  await dialog.locator(".auth-btn-wrapper button.btn-done").click();

  const [meStatus, meText, meBlock] = await tryItOut("#operations-me-me");
  await snap("me-response", meBlock);
  check(meStatus === "200", `GET /api/me/ answered ${meStatus}`);
  const me = JSON.parse(meText);
  check(me.username === username && me.is_staff === false && Number.isInteger(me.id),
    `GET /api/me/ returned the user: ${meText.replace(/\s+/g, " ")}`);
  const curl = await meBlock.locator(".curl-command").innerText();
  check(curl.includes(`Authorization: Bearer ${pair.access}`), "the request carried the bearer token");
} catch (error) {
  failed = true;
  console.error(`FAILED: ${error.message}`);
  await snap("failure").catch(() => {});
} finally {
  await browser.close();
}
console.log(failed ? "swagger-ui: FAILED" : "swagger-ui: passed");
process.exit(failed ? 1 : 0);
