// The world the browser tests run in: a real DataGuardian server (the
// binary under test, DG_BIN), a real PostgreSQL on 127.0.0.1:5432 holding
// the Chinook sample, Debian's Chromium driven by playwright-core, and
// axe-core for accessibility. Nothing is mocked.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
export const artifacts = resolve(here, "../test-results");

export function psql(db, sql) {
  const r = spawnSync("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A fresh database with the Chinook sample in it (the script's own CREATE/\c lines dropped). */
export function chinookDatabase(name) {
  psql("postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  psql("postgres", `CREATE DATABASE "${name}"`);
  const script = readFileSync(join(repo, "host/tests/fixtures/chinook/Chinook_PostgreSql.sql"), "utf8")
    .split("\n")
    .filter((l) => !/^\s*(DROP DATABASE|CREATE DATABASE|\\c )/i.test(l))
    .join("\n");
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", name], {
    input: script,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`loading Chinook: ${r.stderr.slice(0, 2000)}`);
}

export function dropDatabase(name) {
  psql("postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

async function freePort() {
  return await new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** Starts the server on a free port with an admin account; resolves when /health answers. */
export async function startServer({ username = "admin", password = "correct horse battery", withAdmin = true } = {}) {
  const bin = process.env.DG_BIN ? resolve(process.env.DG_BIN) : join(repo, "target/debug/dataguardian");
  const dir = mkdtempSync(join(tmpdir(), "dg-e2e-"));
  const dataDir = join(dir, "data");
  const allowed = join(dir, "allowed");
  mkdirSync(allowed);
  if (withAdmin) {
    const admin = spawnSync(bin, ["--data-dir", dataDir, "admin", "create", "--username", username, "--password-stdin"], {
      input: password + "\n",
      encoding: "utf8",
    });
    if (admin.status !== 0) throw new Error(`admin create: ${admin.stderr}`);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const child = spawn(bin, ["--data-dir", dataDir, "serve", "--listen", `127.0.0.1:${port}`, "--allowed-roots", allowed], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: process.env.RUST_LOG ?? "info" },
  });
  child.stdout.on("data", (d) => log.push(String(d)));
  child.stderr.on("data", (d) => log.push(String(d)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${log.join("")}`);
    try {
      const r = await fetch(base + "/health");
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not start: ${log.join("")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    dir,
    allowed,
    username,
    password,
    log,
    /** The first-run link the server logs when it has no user. */
    setupLink() {
      return log.join("").match(/open (http:\/\/\S+\/setup\?token=\S+)/)?.[1];
    },
    async stop(name = "server") {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      mkdirSync(artifacts, { recursive: true });
      writeFileSync(join(artifacts, `${name}.log`), log.join(""));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless; every console error and failed page load is recorded. */
export async function openBrowser() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return { browser, page, problems };
}

const axeSource = readFileSync(join(repo, "web/node_modules/axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations on the current page. */
export async function seriousViolations(page) {
  // Through the DevTools protocol: the page's content security policy
  // (rightly) refuses an inline script tag.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
