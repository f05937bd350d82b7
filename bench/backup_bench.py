#!/usr/bin/env python3
"""Backup throughput and memory benchmark (not a test).

Builds the release binary, makes PostgreSQL databases of realistic,
moderately compressible data (two sizes), then in the same run times
  baseline:  pg_dump -Fc -Z0 DB > /dev/null
  candidate: dataguardian backup --compression zstd (sha256, local storage)
and reports wall-time ratio (candidate / baseline, median of N runs) and
peak RSS of dataguardian at both sizes.

Usage: bench/backup_bench.py [--small-mb 256] [--large-mb 1100] [--runs 3] [--recreate]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = ["-h", "127.0.0.1", "-U", "postgres"]


def psql(db, sql):
    return subprocess.run(["psql", "-X", "-A", "-t", "-q", *PG, "-d", db, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def db_size(db):
    return int(psql(db, "select pg_database_size(current_database())"))


def make_db(name, target_mb, recreate):
    exists = psql("postgres", f"select count(*) from pg_database where datname = '{name}'") == "1"
    if exists and not recreate and db_size(name) >= target_mb * 1e6 * 0.95:
        return
    psql("postgres", f"drop database if exists {name} with (force)")
    psql("postgres", f"create database {name}")
    psql(name, """create table events (
        id bigint primary key, created_at timestamptz, user_id int, kind text,
        amount numeric(12,2), payload jsonb, note text)""")
    batch = 200_000
    i = 0
    while db_size(name) < target_mb * 1e6:
        psql(name, f"""insert into events
            select g, now() - (g % 100000) * interval '1 minute', (random() * 1e6)::int,
                   (array['login','purchase','view','logout','refund'])[1 + g % 5],
                   round((random() * 1000)::numeric, 2),
                   jsonb_build_object('session', md5(random()::text), 'ip',
                       (random()*255)::int || '.' || (random()*255)::int || '.1.' || (g % 255),
                       'agent', 'Mozilla/5.0 build ' || (g % 977)),
                   md5(random()::text) || ' ' || md5(g::text) || ' order ' || g
            from generate_series({i + 1}, {i + batch}) g""")
        i += batch
    psql(name, "vacuum analyze events")


def timed(cmd, stdout=subprocess.DEVNULL):
    """Wall seconds and peak RSS (KiB) of cmd, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *cmd],
                       check=True, stdout=stdout, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        return wall, int(report.read().strip().splitlines()[-1])


def bench(binary, db, runs, work):
    base, cand, rss = [], [], []
    for r in range(runs):
        with open(os.devnull, "wb") as null:
            base.append(timed(["pg_dump", "-Fc", "-Z0", *PG, "-d", db], stdout=null)[0])
        out = os.path.join(work, f"store-{db}-{r}")
        wall, peak = timed([binary, "--data-dir", os.path.join(work, "data"), "backup",
                            "--engine", "postgres", "--source", f"postgres://postgres@127.0.0.1:5432/{db}",
                            "--to", out, "--compression", "zstd"])
        cand.append(wall)
        rss.append(peak)
        stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
        shutil.rmtree(out)
    return statistics.median(base), statistics.median(cand), max(rss), stored


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small-mb", type=int, default=256)
    ap.add_argument("--large-mb", type=int, default=1100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--recreate", action="store_true")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "dataguardian"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target/release/dataguardian")
    dbs = [("dg_bench_small", a.small_mb), ("dg_bench_large", a.large_mb)]
    for name, mb in dbs:
        make_db(name, mb, a.recreate)
    with tempfile.TemporaryDirectory() as work:
        # Warm the component cache so the first measured run does not compile.
        subprocess.run([binary, "--data-dir", os.path.join(work, "data"), "plugin", "list"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{'database':<16} {'size':>9} {'pg_dump -Z0':>12} {'dataguardian':>13} {'ratio':>6} {'peak RSS':>9} {'stored':>9}")
        for name, _ in dbs:
            base, cand, rss, stored = bench(binary, name, a.runs, work)
            print(f"{name:<16} {db_size(name)/1e6:>7.0f}MB {base:>11.2f}s {cand:>12.2f}s "
                  f"{cand/base:>6.3f} {rss/1024:>7.1f}MB {stored/1e6:>7.0f}MB")


if __name__ == "__main__":
    sys.exit(main())
