// The UI end to end, as a person uses it: sign in, add a PostgreSQL
// datasource, a local storage and a job, run it and watch it complete,
// read its logs, restore in verification mode from the Backups page, then
// restore for real into a new database after confirming the target.
// axe-core checks every main screen; screenshots land in web/test-results.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { chinookDatabase, dropDatabase, openBrowser, psql, screenshot, seriousViolations, startServer } from "./harness.mjs";

const suffix = `${process.pid}`;
const source = `dg_e2e_src_${suffix}`;
const restored = `dg_e2e_restored_${suffix}`;
let server;
let browser;
let page;
let problems;

const LONG = { timeout: 120_000 };

async function expectNoSeriousViolations(screen) {
  const found = await seriousViolations(page);
  assert.deepEqual(found, [], `${screen}: axe-core found serious or critical violations:\n${JSON.stringify(found, null, 2)}`);
}

async function go(link, heading) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: heading ?? link }).waitFor();
}

describe("web UI", { timeout: 600_000 }, () => {
  before(async () => {
    chinookDatabase(source);
    dropDatabase(restored);
    server = await startServer();
    ({ browser, page, problems } = await openBrowser());
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    dropDatabase(source);
    dropDatabase(restored);
  });

  it("serves the app with a content security policy and long-lived hashed assets", async () => {
    const index = await fetch(server.base + "/jobs/new");
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /text\/html/);
    assert.match(index.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const html = await index.text();
    const asset = html.match(/\/assets\/[^"]+\.js/)?.[0];
    assert.ok(asset, html);
    const js = await fetch(server.base + asset);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("cache-control") ?? "", /immutable/);
    const api404 = await fetch(server.base + "/api/nope");
    assert.equal(api404.status, 404);
    assert.equal((await api404.json()).error.code, "not_found");
  });

  it("refuses a wrong password, then signs in", async () => {
    await page.goto(server.base + "/");
    await page.getByLabel("Username").waitFor();
    assert.deepEqual(problems, [], "a visitor who is not signed in causes no console error");
    await page.getByLabel("Username").fill(server.username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: /invalid|password/i }).waitFor();
    await expectNoSeriousViolations("sign-in");
    await screenshot(page, "01-sign-in");
    problems.length = 0; // the 401 of the wrong password is logged by the browser
    await page.getByLabel("Password").fill(server.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(`Signed in as ${server.username}`).waitFor();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await expectNoSeriousViolations("dashboard");
    await screenshot(page, "02-dashboard");
  });

  it("adds a PostgreSQL datasource and tests its connection", async () => {
    await go("Datasources");
    await page.getByRole("button", { name: "Add datasource" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Chinook");
    await dialog.getByLabel("Type").selectOption("postgres");
    await dialog.getByLabel("Host").fill("127.0.0.1");
    await dialog.getByLabel("Port").fill("5432");
    await dialog.getByLabel("Database").fill(source);
    await dialog.getByLabel("Username").fill("postgres");
    await dialog.getByLabel("Password").fill("unused-with-trust");
    await expectNoSeriousViolations("datasource form");
    await screenshot(page, "03-datasource-form");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = page.getByRole("row", { name: /Chinook/ });
    await row.getByText("postgres").waitFor();
    await row.getByRole("link", { name: "Chinook" }).click();
    await page.getByRole("heading", { level: 1, name: "Chinook" }).waitFor();
    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByRole("status").filter({ hasText: /connected|PostgreSQL/i }).waitFor(LONG);
    await expectNoSeriousViolations("datasource detail");
    await screenshot(page, "04-datasource-detail");
  });

  it("adds a local storage, creating its directory", async () => {
    await go("Storages");
    await page.getByRole("button", { name: "Add storage" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill("Local disk");
    await dialog.getByLabel("Type").selectOption("local");
    await dialog.getByLabel("Path").fill(join(server.allowed, "backups"));
    await dialog.getByRole("checkbox", { name: /create/i }).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("row", { name: /Local disk/ }).waitFor();
    await expectNoSeriousViolations("storages");
    await screenshot(page, "05-storages");
  });

  it("adds a job with a previewed schedule, runs it and watches it complete", async () => {
    await go("Jobs");
    await page.getByRole("button", { name: "Add job" }).click();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: /job/i }).waitFor();
    await page.getByLabel("Name").fill("Chinook nightly");
    await page.getByLabel("Datasource").selectOption({ label: "Chinook" });
    await page.getByLabel("Storage", { exact: true }).selectOption({ label: "Local disk" });
    await page.getByLabel("Schedule").fill("0 3 * * *");
    await page.getByLabel("Timezone").selectOption("Europe/Lisbon");
    // Five next runs, computed by the server's scheduler, shown at 03:00 Lisbon time.
    const preview = page.getByRole("list", { name: /next runs/i });
    await preview.getByRole("listitem").nth(4).waitFor();
    assert.equal(await preview.getByRole("listitem").count(), 5);
    assert.match(await preview.getByRole("listitem").first().innerText(), /03:00/);
    await expectNoSeriousViolations("job form");
    await screenshot(page, "06-job-form");
    await page.getByRole("button", { name: "Save" }).click();
    const row = page.getByRole("row", { name: /Chinook nightly/ });
    await row.waitFor();
    await expectNoSeriousViolations("jobs");
    await screenshot(page, "07-jobs");
    await row.getByRole("button", { name: "Run now" }).click();

    await go("Executions");
    const run = page.getByRole("row", { name: /Chinook nightly/ }).filter({ hasText: "backup" }).first();
    await run.getByText("completed", { exact: true }).waitFor(LONG);
    await expectNoSeriousViolations("executions");
    await screenshot(page, "08-executions");
    await run.getByRole("link").first().click();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: "Chinook nightly" }).waitFor();
    const logs = page.getByRole("region", { name: "Logs" });
    await logs.getByText(/completed|stored|checksum/i).first().waitFor(LONG);
    await expectNoSeriousViolations("execution detail");
    await screenshot(page, "09-execution-detail");
  });

  it("restores in verification mode from the Backups page", async () => {
    await go("Backups");
    await page.getByRole("row", { name: /Chinook/ }).getByRole("link", { name: "Chinook" }).click();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: "Chinook" }).waitFor();
    await page.getByRole("row", { name: /Local disk/ }).first().waitFor();
    await expectNoSeriousViolations("backups");
    await screenshot(page, "10-backups");
    await page.getByRole("button", { name: "Restore" }).first().click();
    const dialog = page.getByRole("dialog");
    const verification = dialog.getByRole("checkbox", { name: "Verification mode" });
    await verification.check();
    await expectNoSeriousViolations("restore dialog");
    await screenshot(page, "11-restore-verification");
    await dialog.getByRole("button", { name: "Start restore" }).click();
    await dialog.getByText("completed", { exact: true }).waitFor(LONG);
    await dialog.getByRole("button", { name: "Close" }).first().click();
    await dialog.waitFor({ state: "hidden" });
  });

  it("restores into a new database only after confirming the target", async () => {
    await page.getByRole("button", { name: "Restore" }).first().click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("checkbox", { name: "Verification mode" }).uncheck();
    await dialog.getByLabel("Datasource").selectOption({ label: "Chinook" });
    await dialog.getByLabel("Database").fill(restored);
    const start = dialog.getByRole("button", { name: "Start restore" });
    assert.equal(await start.isDisabled(), true, "a real restore needs the confirmation first");
    const confirm = dialog.getByRole("checkbox", { name: new RegExp(restored) });
    await confirm.check();
    await screenshot(page, "12-restore-confirm");
    await start.click();
    await dialog.getByText("completed", { exact: true }).waitFor(LONG);
    assert.equal(psql(restored, 'SELECT count(*) FROM track'), psql(source, 'SELECT count(*) FROM track'));
    await dialog.getByRole("button", { name: "Close" }).first().click();
    await dialog.waitFor({ state: "hidden" });
  });

  it("shows every other main screen without accessibility problems", async () => {
    for (const [link, name] of [
      ["Notifications", "notifications"],
      ["Settings", "settings"],
      ["Dashboard", "dashboard-after"],
    ]) {
      await go(link);
      await expectNoSeriousViolations(link);
      await screenshot(page, `13-${name}`);
    }
  });

  it("shows the node that answered, leading the scheduler, and the queue taking work", async () => {
    await go("Settings");
    await page.getByRole("link", { name: "Nodes", exact: true }).click();
    await page.getByRole("heading", { level: 2, name: "Nodes" }).waitFor();
    await page.getByText("Work queue: embedded, taking work.").waitFor(LONG);
    const row = page.getByRole("row").filter({ hasText: "answered this page" });
    await row.getByText("scheduler leader", { exact: false }).waitFor(LONG);
    await expectNoSeriousViolations("Settings › Nodes");
    await screenshot(page, "14-nodes");
  });

    it("logged nothing to the console", () => {
    assert.deepEqual(problems, []);
  });
});
