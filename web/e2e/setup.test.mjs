// First run in the browser: the link the server logs opens the setup
// page, which creates the first administrator; then signing in works with
// the keyboard alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { openBrowser, screenshot, seriousViolations, startServer } from "./harness.mjs";

let server;
let browser;
let page;
let problems;

describe("first run", { timeout: 120_000 }, () => {
  before(async () => {
    server = await startServer({ withAdmin: false });
    ({ browser, page, problems } = await openBrowser());
  });
  after(async () => {
    await browser?.close();
    await server?.stop("setup-server");
  });

  it("creates the first administrator from the logged setup link", async () => {
    let link;
    for (let i = 0; i < 50 && !link; i++) {
      link = server.setupLink();
      if (!link) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(link, `no setup link in the log:\n${server.log.join("")}`);
    await page.goto(link);
    await page.getByRole("heading", { level: 1, name: "Create the first administrator" }).waitFor();
    const token = await page.getByLabel("Setup token").inputValue();
    assert.notEqual(token, "");
    // A wrong token is refused under its own field.
    await page.getByLabel("Setup token").fill("not-the-token");
    await page.getByLabel("Password", { exact: true }).fill("a long enough password");
    await page.getByLabel("Confirm password").fill("a long enough password");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByText(/setup token is unknown/).waitFor();
    assert.equal(await page.getByRole("alert").count(), 0, "the refusal sits under the field, not above the form");
    await page.getByLabel("Setup token").fill(token);
    await page.getByLabel("Username").fill("root-admin");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByLabel("Confirm password").fill("short");
    await page.getByRole("button", { name: "Create administrator" }).click();
    // The server refuses a short password and names the field.
    await page.getByText("must be at least 10 characters").waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, "00-setup");
    problems.length = 0; // the browser logs the refused request
    await page.getByLabel("Password", { exact: true }).fill("a long enough password");
    await page.getByLabel("Confirm password").fill("a long enough password");
    await page.getByRole("button", { name: "Create administrator" }).click();
    // Created and signed in.
    await page.getByText("Signed in as root-admin").waitFor();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  });

  it("signs in with the keyboard alone", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await screenshot(page, "00-signed-out");
    await page.getByLabel("Username").waitFor();
    assert.deepEqual(problems, [], "the signed-out page logged errors");
    await page.keyboard.press("Tab"); // the first control
    await page.keyboard.type("root-admin");
    await page.keyboard.press("Tab");
    await page.keyboard.type("a long enough password");
    await page.keyboard.press("Enter");
    await page.getByText("Signed in as root-admin").waitFor();
    // The skip link is the first stop, then the navigation.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Dashboard");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Datasources" }).waitFor();
    assert.deepEqual(problems, []);
  });
});
