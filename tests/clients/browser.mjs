// Debian's chromium under playwright-core, as both browser checks start it: no browser is
// downloaded, and the flags keep it off the network this machine does not have.
import { chromium } from "playwright-core";

export function launchChromium(executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium") {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
