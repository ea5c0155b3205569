// i2v serve's page in Debian's headless Chromium, driven by playwright-core (no browser download):
// load it, upload a picture, see its tags, its class activation map and its neighbours, pick two
// ends and run a morph, check the map is drawn; then a full-page screenshot. Prints a JSON report
// on its last line (tests/serve_test.py checks it); exits 1 on the first step that fails.
//   node serve_page_test.js URL PICTURE SCREENSHOT.png
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [url, picture, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
                                          args: ["--no-sandbox", "--disable-gpu"] });
  const report = { console_errors: [], failed_responses: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.setDefaultTimeout(60000);
    // A refused resource shows as a console error without its address: those are listed from the responses.
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) report.console_errors.push(message.text());
    });
    page.on("response", (response) => {
      if (response.status() >= 400) report.failed_responses.push(`${response.status()} ${new URL(response.url()).pathname}`);
    });
    page.on("pageerror", (error) => report.console_errors.push(String(error)));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("status").textContent.includes("tags"));

    // Upload: tags and neighbours.
    await page.setInputFiles("#upload", picture);
    await page.waitForSelector("#tags .tag");
    await page.waitForSelector("#neighbours .item");
    report.tags = await page.locator("#tags .tag").count();
    report.neighbours = await page.locator("#neighbours .item").count();

    // The class activation map of the first tag.
    await page.click("#cam-show");
    await page.waitForSelector("#cam-image:not([hidden])");
    report.cam_width = await page.$eval("#cam-image", (img) => img.naturalWidth);

    // A morph: from the upload's nearest item to a neighbour of it.
    await page.click("#morph-from");
    await page.locator("#neighbours .item").nth(1).click();
    await page.waitForFunction(() => document.getElementById("picture-name").textContent.startsWith("item"));
    await page.waitForSelector("#ends:not([hidden])");
    await page.click("#morph-to");
    await page.click("#morph-run");
    await page.waitForSelector("#morph-paths .path .item, #morph-error:not([hidden])");
    const morphError = await page.$eval("#morph-error", (e) => (e.hidden ? "" : e.textContent));
    if (morphError) throw new Error(`the morph failed: ${morphError}`);
    report.morph_steps = await page.locator("#morph-paths .path").first().locator(".item").count();

    // The map: dots drawn on the canvas.
    report.map_pixels = await page.$eval("#map", (canvas) => {
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let drawn = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i] < 200) drawn++;
      return drawn;
    });
    // The class activation map over the picture last picked, for the screenshot.
    await page.click("#cam-show");
    await page.waitForSelector("#cam-image:not([hidden])");
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
