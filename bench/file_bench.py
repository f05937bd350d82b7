#!/usr/bin/env python3
"""PostgreSQL backup to a file against the same work in the shell (not a test).

Builds the release binary, makes (once) a PostgreSQL database of realistic
rows of at least --mb MB, then alternates, --runs times, each pair in the
same round so background load hits both sides alike:

  none:  pg_dump -Fc -Z0 DB > FILE && sync FILE
         dataguardian backup --engine postgres --compression none --to DIR
  zstd:  pg_dump -Fc -Z0 DB | zstd -1 > FILE && sync FILE
         dataguardian backup --engine postgres --compression zstd --to DIR

Both sides write a file on the same disk and fsync it (the local storage
plugin syncs the artifact and its folder). Prints the median wall times,
their ratio, every run, and dataguardian's peak RSS (GNU time %M) and CPU
(user + system).

Several --binary options (say, the binary before and after a change) are
run in the same rounds, each right after the shell baseline, and each is
reported with its own ratio.

Usage: bench/file_bench.py [--mb 760] [--runs 3] [--only none|zstd] [--binary PATH ...]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backup_bench import PG, db_size, make_db  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = "dg_bench_large"


def shell(cmd):
    """Wall seconds of a shell pipeline."""
    start = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    return time.perf_counter() - start


def timed(cmd):
    """Wall seconds, peak RSS (KiB) and user + system CPU seconds of cmd."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M %U %S", *cmd],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        rss, user, sys_ = report.read().strip().splitlines()[-1].split()
        return wall, int(rss), float(user), float(sys_)


def shell_run(work, compression):
    pg = " ".join(PG)
    out = os.path.join(work, "shell.dump")
    if compression == "none":
        wall = shell(f"pg_dump -Fc -Z0 {pg} -d {DB} > {out} && sync {out}")
    else:
        wall = shell(f"pg_dump -Fc -Z0 {pg} -d {DB} | zstd -q -1 > {out} && sync {out}")
    os.remove(out)
    return wall


def dg_run(binary, work, compression, r):
    to = os.path.join(work, f"store-{compression}-{r}")
    wall, rss, user, sys_ = timed([binary, "--data-dir", os.path.join(work, "data"), "backup",
                                   "--engine", "postgres",
                                   "--source", f"postgres://postgres@127.0.0.1:5432/{DB}",
                                   "--to", to, "--compression", compression])
    stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(to) for f in fs)
    shutil.rmtree(to)
    return wall, rss, user, sys_, stored


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=760)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["none", "zstd"])
    ap.add_argument("--binary", action="append",
                    help="use this binary instead of building one (repeat to compare binaries)")
    a = ap.parse_args()
    binaries = a.binary
    if not binaries:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "dataguardian"], cwd=ROOT, check=True)
        binaries = [os.path.join(ROOT, "target/release/dataguardian")]
    make_db(DB, a.mb, False)
    modes = [a.only] if a.only else ["none", "zstd"]
    # On the disk under the repository (not a tmpfs): both sides write there.
    with tempfile.TemporaryDirectory(dir=ROOT) as work:
        # Warm the component cache so no measured run compiles.
        for binary in binaries:
            subprocess.run([binary, "--data-dir", os.path.join(work, "data"), "plugin", "list"],
                           check=True, stdout=subprocess.DEVNULL)
        # runs[(mode, binary)] = [(shell wall, dg wall, rss, user, sys, stored)]
        runs = {(m, b): [] for m in modes for b in binaries}
        for r in range(a.runs):
            for m in modes:
                for b in binaries:
                    base = shell_run(work, m)
                    runs[(m, b)].append((base, *dg_run(b, work, m, r)))
        print(f"{DB}: {db_size(DB)/1e6:.0f} MB, {a.runs} runs, {time.strftime('%Y-%m-%d %H:%M')}")
        for m in modes:
            for b in binaries:
                rs = runs[(m, b)]
                base = statistics.median(x[0] for x in rs)
                cand = statistics.median(x[1] for x in rs)
                print(f"{m:<5} {b}\n      shell {base:6.2f}s  dataguardian {cand:6.2f}s  ratio {cand/base:5.3f}  "
                      f"peak RSS {max(x[2] for x in rs)/1024:5.1f} MB  "
                      f"CPU {statistics.median(x[3] for x in rs):.2f}u+{statistics.median(x[4] for x in rs):.2f}s  "
                      f"stored {rs[-1][5]/1e6:.0f} MB")
                print("      runs (shell/dataguardian): " + "  ".join(f"{x[0]:.2f}/{x[1]:.2f}" for x in rs))


if __name__ == "__main__":
    sys.exit(main())
