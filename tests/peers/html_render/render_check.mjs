// Loads a page in Debian's headless Chromium and fails when the page logs a console error
// or throws. Playwright makes (and removes) the fresh profile folder itself: it refuses
// --user-data-dir among the arguments. Prints one JSON line: {"errors":[...],"title":"...","text":"..."}.
// Usage: node render_check.mjs URL
import { chromium } from "playwright-core";

const url = process.argv[2];
if (!url) {
  console.error("usage: node render_check.mjs URL");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--no-first-run", "--disable-default-apps", "--disable-extensions",
  ],
});
const errors = [];
try {
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => errors.push(`requestfailed: ${r.url()}`));
  await page.goto(url, { waitUntil: "load" });
  const title = await page.title();
  const text = await page.evaluate(() => document.body.innerText);
  const svgs = await page.evaluate(() => document.querySelectorAll("svg rect").length);
  console.log(JSON.stringify({ errors, title, text, svgRects: svgs }));
} finally {
  await browser.close();
}
process.exit(errors.length ? 1 : 0);
