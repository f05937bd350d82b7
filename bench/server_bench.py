#!/usr/bin/env python3
"""Server-path benchmark (not a test): backups and downloads through the
REST API of a running `dataguardian serve`, against same-run baselines.

For each database (the two of backup_bench.py), N times:
  baseline:  pg_dump -Fc -Z0 DB > /dev/null
  candidate: POST /api/backup-jobs/{id}/run, polled until `completed`
             (queue, worker, plugin, zstd, sha256, local storage, manifest,
             metadata rows, retention)
then downloads the newest backup N times:
  baseline:  reading the stored file and hashing it (sha256)
  candidate: GET /api/executions/{id}/download, hashed the same way (the
             server re-checks every chunk checksum while streaming)

Prints median times, ratios, and the server's resident memory: its peak
(VmHWM) after each database and its current RSS at the end. The peak after
the large database equal to the one after the small one is what "memory
stays flat as size grows" means for the server.

Usage: bench/server_bench.py [--small-mb 256] [--large-mb 1100] [--runs 3]
"""
import argparse, hashlib, json, os, statistics, subprocess, sys, tempfile, time
import urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backup_bench import PG, ROOT, db_size, make_db  # noqa: E402


class Server:
    def __init__(self, binary, work):
        log = open(os.path.join(work, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(work, "data"), "serve",
             "--listen", "127.0.0.1:0", "--health-interval-secs", "3600"],
            stdout=subprocess.PIPE, stderr=log, env={**os.environ, "DG_LOG": "warn"})
        self.base = "http://" + json.loads(self.proc.stdout.readline())["listening"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode()}") from None

    def memory_kib(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"{field} not in /proc status")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_backup(server, job):
    start = time.perf_counter()
    exec_id = server.call("POST", f"/api/backup-jobs/{job}/run", {})["execution_id"]
    while True:
        e = server.call("GET", f"/api/executions/{exec_id}")
        if e["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.05)
    if e["status"] != "completed":
        raise RuntimeError(f"backup {exec_id} ended {e['status']}: {e.get('error_message')}")
    return time.perf_counter() - start, e


def hash_stream(read):
    h = hashlib.sha256()
    size = 0
    while True:
        block = read(1 << 20)
        if not block:
            return "sha256:" + h.hexdigest(), size
        h.update(block)
        size += len(block)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small-mb", type=int, default=256)
    ap.add_argument("--large-mb", type=int, default=1100)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "dataguardian"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target/release/dataguardian")
    dbs = [("dg_bench_small", a.small_mb), ("dg_bench_large", a.large_mb)]
    for name, mb in dbs:
        make_db(name, mb, False)

    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, work)
        try:
            root = os.path.join(work, "backups")
            storage = server.call("POST", "/api/storage-locations",
                                  {"name": "bench disk", "type": "local", "config": {"path": root}, "create_root": True})["id"]
            print(f"{'database':<16} {'size':>9} {'pg_dump -Z0':>12} {'API backup':>11} {'ratio':>6} {'peak RSS':>9}")
            last = None
            for name, _ in dbs:
                ds = server.call("POST", "/api/datasources", {
                    "name": name, "type": "postgres", "connection_config": {
                        "host": "127.0.0.1", "port": 5432, "database": name,
                        "username": "postgres", "password": "unused-with-trust"}})["id"]
                job = server.call("POST", "/api/backup-jobs", {
                    "name": f"bench {name}", "datasource_id": ds, "storage_location_id": storage,
                    "schedule_cron": "0 3 * * *", "schedule_timezone": "UTC",
                    "backup_options": {"compression": "zstd"},
                    "retention_policy": {"max_backups": 1, "auto_delete": True}})["id"]
                run_backup(server, job)  # warm: plugin cache, page cache
                base, cand = [], []
                for _ in range(a.runs):
                    with open(os.devnull, "wb") as null:
                        t = time.perf_counter()
                        subprocess.run(["pg_dump", "-Fc", "-Z0", *PG, "-d", name], check=True, stdout=null)
                        base.append(time.perf_counter() - t)
                    wall, last = run_backup(server, job)
                    cand.append(wall)
                b, c = statistics.median(base), statistics.median(cand)
                print(f"{name:<16} {db_size(name)/1e6:>7.0f}MB {b:>11.2f}s {c:>10.2f}s {c/b:>6.3f} "
                      f"{server.memory_kib('VmHWM')/1024:>7.1f}MB")

            artifact = os.path.join(root, last["chunks"][0]["file_path"])
            base, cand = [], []
            for _ in range(a.runs):
                t = time.perf_counter()
                with open(artifact, "rb") as f:
                    expected, size = hash_stream(f.read)
                base.append(time.perf_counter() - t)
                t = time.perf_counter()
                with urllib.request.urlopen(f"{server.base}/api/executions/{last['id']}/download") as resp:
                    announced = resp.headers["x-dataguardian-checksum"]
                    got, got_size = hash_stream(resp.read)
                cand.append(time.perf_counter() - t)
                if (got, got_size) != (expected, size) or announced != expected:
                    raise RuntimeError(f"download differs: {got} {got_size} vs {expected} {size}")
            b, c = statistics.median(base), statistics.median(cand)
            print(f"download {size/1e6:.0f} MB: read+sha256 {b:.2f}s, API download+sha256 {c:.2f}s, "
                  f"ratio {c/b:.3f}, {size/1e6/c:.0f} MB/s")
            print(f"server peak RSS {server.memory_kib('VmHWM')/1024:.1f} MB, "
                  f"current {server.memory_kib('VmRSS')/1024:.1f} MB")
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
