#!/usr/bin/env python3
"""MariaDB backup throughput and memory benchmark (not a test).

Builds the release binary, makes a MariaDB database of realistic,
moderately compressible data (default ~600 MB on disk), then in the same
run times
  baseline:  mariadb-dump … DB | zstd -1 | tee FILE | sha256sum
  candidate: dataguardian backup --engine mariadb --compression zstd
             (level 1, sha256, local storage)
and reports the wall-time ratio (candidate / baseline, median of N runs)
and peak RSS of dataguardian at two sizes (the table half filled, then
full), so memory can be seen not to grow with size.

Usage: bench/mysql_bench.py [--mb 600] [--runs 3] [--binary PATH]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = "dg_bench_maria"
CLIENT = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-u", "root"]
DUMP = ["mariadb-dump", "--no-defaults", "-h", "127.0.0.1", "-u", "root", "--single-transaction",
        "--routines", "--triggers", "--events", "--hex-blob", "--quick", "--skip-lock-tables"]


def sql(query, db=None):
    return subprocess.run([*CLIENT, "--batch", "--skip-column-names", *([db] if db else []), "-e", query],
                          check=True, capture_output=True, text=True).stdout.strip()


def size_mb():
    return float(sql(f"select coalesce(sum(data_length + index_length), 0) / 1e6 from information_schema.tables "
                     f"where table_schema = '{DB}'"))


def fill(target_mb):
    sql(f"create database if not exists {DB}")
    sql("create table if not exists events (id bigint primary key, created_at datetime, user_id int, "
        "kind varchar(16), amount decimal(12,2), payload json, note text)", DB)
    start = int(sql("select coalesce(max(id), 0) from events", DB))
    batch = 200_000
    while size_mb() < target_mb:
        sql(f"""insert into events select {start} + seq, now() - interval (seq % 100000) minute,
                floor(rand() * 1e6), elt(1 + seq % 5, 'login', 'purchase', 'view', 'logout', 'refund'),
                round(rand() * 1000, 2),
                json_object('session', md5(rand()), 'ip', concat(floor(rand()*255), '.', floor(rand()*255), '.1.', seq % 255),
                            'agent', concat('Mozilla/5.0 build ', seq % 977)),
                concat(md5(rand()), ' ', md5(seq), ' order ', seq)
              from seq_1_to_{batch}""", DB)
        start += batch
        sql("analyze table events", DB)


def timed(cmd, shell=False):
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        if shell:
            subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, executable="/bin/bash")
            peak = 0
        else:
            subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *cmd], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = int(report.read().strip().splitlines()[-1])
        return time.perf_counter() - start, peak


def bench(binary, runs, work):
    base, cand, rss = [], [], []
    for r in range(runs):
        out = os.path.join(work, "baseline.sql.zst")
        pipeline = " ".join(DUMP) + f" {DB} | zstd -1 -q | tee {out} | sha256sum"
        base.append(timed(f"set -o pipefail; {pipeline}", shell=True)[0])
        os.remove(out)
        store = os.path.join(work, f"store-{r}")
        wall, peak = timed([binary, "--data-dir", os.path.join(work, "data"), "backup", "--engine", "mariadb",
                            "--source", f"mysql://root@127.0.0.1:3306/{DB}", "--to", store,
                            "--compression", "zstd"])
        cand.append(wall)
        rss.append(peak)
        shutil.rmtree(store)
    return statistics.median(base), statistics.median(cand), max(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=600)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--binary", help="use this binary instead of building one")
    a = ap.parse_args()
    binary = a.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "dataguardian"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target/release/dataguardian")
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([binary, "--data-dir", os.path.join(work, "data"), "plugin", "list"],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{'database':>10} {'dump|zstd|tee|sha256sum':>24} {'dataguardian':>13} {'ratio':>6} {'peak RSS':>9}")
        for target in (a.mb // 2, a.mb):
            fill(target)
            base, cand, rss = bench(binary, a.runs, work)
            print(f"{size_mb():>8.0f}MB {base:>23.2f}s {cand:>12.2f}s {cand/base:>6.3f} {rss/1024:>7.1f}MB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
