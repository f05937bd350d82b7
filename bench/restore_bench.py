#!/usr/bin/env python3
"""Restore benchmark (not a test): restores through the REST API of a
running `dataguardian serve` against the shell pipeline, in one run.

Makes (once) a PostgreSQL database of several large tables with secondary
indexes, backs it up once through the API (zstd), then for each mode, N
times, into a freshly created empty database, with PostgreSQL quiesced
before each timed run (no autovacuum worker running, CHECKPOINT):
  shell:        zstd -dc ARTIFACT | pg_restore --single-transaction --exit-on-error
  shell -j:     zstd -dc ARTIFACT > FILE; pg_restore --jobs CORES FILE (reference)
  API:          POST /api/backups/{id}/restore {"jobs": 1}, polled until completed
  API jobs=auto POST ... {"jobs": "auto"} (spooled, pg_restore --jobs CORES)
  API jobs=2×cores, to see whether more workers than cores help
and prints medians and ratios against the shell single stream, and the
server's peak RSS.

Usage: bench/restore_bench.py [--mb 1100] [--runs 3] [--recreate] [--debug] [--single-only]
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backup_bench import PG, ROOT, db_size, psql  # noqa: E402
from server_bench import Server, run_backup  # noqa: E402

SOURCE = "dg_bench_restore"
TARGET = "dg_bench_restore_target"


def make_db(target_mb, recreate):
    """Three large tables, each with a primary key and secondary indexes,
    so that a restore spends real time both loading and indexing."""
    exists = psql("postgres", f"select count(*) from pg_database where datname = '{SOURCE}'") == "1"
    if exists and not recreate and db_size(SOURCE) >= target_mb * 1e6 * 0.95:
        return
    psql("postgres", f"drop database if exists {SOURCE} with (force)")
    psql("postgres", f"create database {SOURCE}")
    psql(SOURCE, """
        create table customers (id bigint primary key, email text, name text, country text,
                                created_at timestamptz, notes text);
        create table orders (id bigint primary key, customer_id bigint, placed_at timestamptz,
                             status text, total numeric(12,2), lines jsonb);
        create table events (id bigint primary key, customer_id bigint, at timestamptz,
                             kind text, payload text);""")
    batch, i = 200_000, 0
    while db_size(SOURCE) < target_mb * 1e6 * 0.75:
        psql(SOURCE, f"""
            insert into customers select g, 'user' || g || '@example.com', md5(g::text),
                (array['PT','BR','DE','US','JP'])[1 + g % 5], now() - g * interval '1 second',
                repeat(md5(random()::text), 2)
              from generate_series({i + 1}, {i + batch}) g;
            insert into orders select g, 1 + (random() * {i + batch})::bigint,
                now() - (g % 50000) * interval '1 minute',
                (array['new','paid','shipped','returned'])[1 + g % 4],
                round((random() * 500)::numeric, 2),
                jsonb_build_array(jsonb_build_object('sku', md5(g::text), 'qty', g % 7))
              from generate_series({i + 1}, {i + batch}) g;
            insert into events select g, 1 + (random() * {i + batch})::bigint,
                now() - (g % 100000) * interval '1 second',
                (array['view','click','buy'])[1 + g % 3], md5(random()::text) || md5(g::text)
              from generate_series({i + 1}, {i + batch}) g;""")
        i += batch
    psql(SOURCE, """
        create index on customers (email); create index on customers (country, created_at);
        create index on orders (customer_id); create index on orders (placed_at);
        create index on events (customer_id, at); create index on events (kind);""")
    psql(SOURCE, "vacuum analyze")


def fresh_target():
    psql("postgres", f"drop database if exists {TARGET} with (force)")
    psql("postgres", f"create database {TARGET}")


def quiesce():
    """No autovacuum worker running and a checkpoint just taken, so runs
    start from the same state."""
    for _ in range(600):
        if psql("postgres", "select count(*) from pg_stat_activity "
                            "where backend_type = 'autovacuum worker'") == "0":
            break
        time.sleep(0.1)
    psql("postgres", "checkpoint")


def fingerprint(db):
    return psql(db, "select string_agg(t || ':' || n, ',' order by t) from ("
                    " select 'customers' t, count(*) n from customers union all"
                    " select 'orders', count(*) from orders union all"
                    " select 'events', count(*) from events) x")


def decompress(chunks):
    """The shell's decompression of the stored chunks, to stdout."""
    if len(chunks) == 1:
        return f"zstd -dcq {chunks[0]}"
    return f"cat {' '.join(chunks)} | zstd -dcq"


def shell_single(chunks):
    t = time.perf_counter()
    subprocess.run(f"{decompress(chunks)} | pg_restore {' '.join(PG)} --single-transaction "
                   f"--exit-on-error --no-owner --no-acl -d {TARGET}",
                   shell=True, check=True)
    return time.perf_counter() - t


def shell_parallel(chunks, jobs, work):
    spool = os.path.join(work, "spool.dump")
    t = time.perf_counter()
    subprocess.run(f"{decompress(chunks)} > {spool}", shell=True, check=True)
    subprocess.run(["pg_restore", *PG, "--jobs", str(jobs), "--exit-on-error", "--no-owner",
                    "--no-acl", "-d", TARGET, spool], check=True)
    elapsed = time.perf_counter() - t
    os.remove(spool)
    return elapsed


def api_restore(server, backup, target_ds, jobs):
    t = time.perf_counter()
    exec_id = server.call("POST", f"/api/backups/{backup}/restore", {
        "target_datasource_id": target_ds, "confirm_overwrite": True, "jobs": jobs})["execution_id"]
    while True:
        e = server.call("GET", f"/api/executions/{exec_id}")
        if e["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t
    if e["status"] != "completed":
        raise RuntimeError(f"restore {exec_id} ended {e['status']}: {e.get('error_message')}")
    STEPS.setdefault(jobs, []).append(steps(server, e))
    return elapsed


STEPS = {}


def steps(server, e):
    """Where an API restore's time went, from its own timestamps: queued →
    started, started → the engine's first line, → finished."""
    ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    logs = server.call("GET", f"/api/executions/{e['id']}/logs")
    lines = logs["data"] if isinstance(logs, dict) else logs
    def first(text, default):
        return next((ts(l["ts"]) for l in lines if text in l["message"]), default)
    started = ts(e["started_at"])
    restoring = first("restoring from", started)
    loading = first("--jobs=", restoring)  # parallel: the spool is verified
    return (started - ts(e["created_at"]), restoring - started, loading - restoring,
            ts(e["finished_at"]) - loading)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--recreate", action="store_true")
    ap.add_argument("--debug", action="store_true", help="use the dev build (quicker to build)")
    ap.add_argument("--single-only", action="store_true",
                    help="only the one-stream modes (shell and API jobs=1)")
    a = ap.parse_args()
    profile = "debug" if a.debug else "release"
    build = ["cargo", "build", "-q", "-p", "dataguardian"] + ([] if a.debug else ["--release"])
    subprocess.run(build, cwd=ROOT, check=True)
    binary = os.path.join(ROOT, f"target/{profile}/dataguardian")
    make_db(a.mb, a.recreate)
    cores = os.cpu_count()
    expected = fingerprint(SOURCE)

    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work)
        try:
            root = os.path.join(work, "backups")
            storage = server.call("POST", "/api/storage-locations",
                                  {"name": "bench disk", "type": "local", "config": {"path": root}, "create_root": True})["id"]
            ds = server.call("POST", "/api/datasources", {
                "name": SOURCE, "type": "postgres", "connection_config": {
                    "host": "127.0.0.1", "port": 5432, "database": SOURCE,
                    "username": "postgres", "password": "unused-with-trust"}})["id"]
            target_ds = server.call("POST", "/api/datasources", {
                "name": TARGET, "type": "postgres", "connection_config": {
                    "host": "127.0.0.1", "port": 5432, "database": TARGET,
                    "username": "postgres", "password": "unused-with-trust"}})["id"]
            job = server.call("POST", "/api/backup-jobs", {
                "name": "bench restore", "datasource_id": ds, "storage_location_id": storage,
                "schedule_cron": "0 3 * * *", "schedule_timezone": "UTC",
                "backup_options": {"compression": "zstd"}})["id"]
            _, backup = run_backup(server, job)
            chunks = [os.path.join(root, c["file_path"]) for c in backup["chunks"]]
            print(f"database {db_size(SOURCE)/1e6:.0f} MB, artifact "
                  f"{backup['compressed_size_bytes']/1e6:.0f} MB zstd, {cores} cores, {profile} build")

            modes = [
                ("shell single-stream", lambda: shell_single(chunks)),
                (f"shell -j{cores} (spooled)", lambda: shell_parallel(chunks, cores, work)),
                ("API jobs=1", lambda: api_restore(server, backup["id"], target_ds, 1)),
                ("API jobs=auto", lambda: api_restore(server, backup["id"], target_ds, "auto")),
                (f"API jobs={2 * cores}", lambda: api_restore(server, backup["id"], target_ds, 2 * cores)),
            ]
            if a.single_only:
                modes = [m for m in modes if m[0] in ("shell single-stream", "API jobs=1")]
            times = {name: [] for name, _ in modes}
            for _ in range(a.runs):
                for name, run in modes:
                    fresh_target()
                    quiesce()
                    times[name].append(run())
                    got = fingerprint(TARGET)
                    if got != expected:
                        raise RuntimeError(f"{name}: restored {got}, source {expected}")
            base = statistics.median(times["shell single-stream"])
            print(f"{'mode':<24} {'median':>8} {'runs':>24} {'ratio':>6}")
            for name, _ in modes:
                m = statistics.median(times[name])
                runs = " ".join(f"{t:.2f}" for t in times[name])
                print(f"{name:<24} {m:>7.2f}s {runs:>24} {m/base:>6.3f}")
            for jobs, runs in STEPS.items():
                q, s, sp, r = (statistics.median(x) for x in zip(*runs))
                print(f"API jobs={jobs}: queued→started {q:.3f}s, started→restoring {s:.3f}s, "
                      f"spool {sp:.2f}s, stream/load {r:.2f}s (medians)")
            print(f"server peak RSS {server.memory_kib('VmHWM')/1024:.1f} MB")
        finally:
            server.stop()
            psql("postgres", f"drop database if exists {TARGET} with (force)")


if __name__ == "__main__":
    sys.exit(main())
