#!/usr/bin/env python3
"""Multi-node benchmark (not a test): throughput of many small manual
backups through the REST API, on one node and on several.

Three configurations, run in this order in one invocation, each on a fresh
PostgreSQL metadata database:
  baseline:   1 node, the embedded queue (work items in the database)
  redis x1:   1 node, the Redis queue (a redis-server this script starts)
  redis xN:   N nodes (default 3), the same Redis, sharing the database

Each gets J jobs (default 200) over one small files datasource (a few
KiB); every job is run once through the API (spread over the nodes, as a
load balancer would) and the clock stops when all J executions are
`completed`. Prints backups per second and the ratios to the baseline.

The limit on a 2-core machine is the machine: N nodes share its 2 cores
and one PostgreSQL, so more nodes add coordination, not compute.

Usage: bench/cluster_bench.py [--binary target/release/dataguardian]
                              [--jobs 200] [--nodes 3] [--concurrency 3]
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.request

PG = "postgres://postgres@127.0.0.1:5432"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # bench-only master key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql, db="postgres"):
    # No NOTICE lines ("does not exist, skipping") between the results.
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", db,
                    "-c", sql], check=True, stdout=subprocess.DEVNULL, env=env)


class Node:
    def __init__(self, binary, data_dir, env, extra):
        self.log = open(data_dir + ".log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0",
             "--health-interval-secs", "3600", "--allowed-roots", tempfile.gettempdir()] + extra,
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.base = "http://" + json.loads(self.proc.stdout.readline())["listening"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Client:
    def __init__(self, token):
        self.token = token

    def call(self, base, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method, headers={
            "content-type": "application/json", "authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode()}") from None


def run_config(args, work, label, nodes, redis_url):
    db = f"dg_cluster_bench_{label.replace(' ', '_')}"
    psql(f"drop database if exists {db}")
    psql(f"create database {db}")
    env = {**os.environ, "DATABASE_URL": f"{PG}/{db}", "DG_MASTER_KEY": KEY, "DG_LOG": "warn",
           "DG_PLUGIN_CACHE_DIR": os.path.join(work, "cache")}
    first = os.path.join(work, label.replace(" ", "_") + "-0")
    subprocess.run([args.binary, "--data-dir", first, "admin", "create", "--username", "admin",
                    "--password-stdin"], input=b"bench-password-123\n", env=env, check=True,
                   stdout=subprocess.DEVNULL)
    token = subprocess.run([args.binary, "--data-dir", first, "token", "create", "--username",
                            "admin", "--name", "bench"], env=env, check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    client = Client(token)
    extra = ["--backup-concurrency", str(args.concurrency)]
    if redis_url:
        extra += ["--redis-url", redis_url]
    servers = [Node(args.binary, first if i == 0 else first[:-1] + str(i), env, extra)
               for i in range(nodes)]
    try:
        site = os.path.join(work, "site")
        ds = client.call(servers[0].base, "POST", "/api/datasources", {
            "name": "site", "type": "files", "connection_config": {"path": site}})["id"]
        storage_root = os.path.join(work, label.replace(" ", "_") + "-storage")
        storage = client.call(servers[0].base, "POST", "/api/storage-locations", {
            "name": "disk", "type": "local", "create_root": True,
            "config": {"path": storage_root}})["id"]
        jobs = [client.call(servers[0].base, "POST", "/api/backup-jobs", {
            "name": f"job {i}", "datasource_id": ds, "storage_location_id": storage,
            "schedule_cron": "0 3 * * *", "schedule_timezone": "UTC"})["id"]
            for i in range(args.jobs)]
        started = time.monotonic()
        ids = [client.call(servers[i % nodes].base, "POST", f"/api/backup-jobs/{job}/run",
                           {})["execution_id"] for i, job in enumerate(jobs)]
        while True:
            out = subprocess.run(
                ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c",
                 "select count(*) filter (where status = 'completed'), "
                 "count(*) filter (where status in ('failed', 'cancelled')) from backup_executions"],
                capture_output=True, check=True).stdout.decode().strip()
            done, bad = (int(x) for x in out.split("|"))
            if bad:
                raise RuntimeError(f"{label}: {bad} backup(s) did not complete")
            if done >= len(ids):
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        per_node = subprocess.run(
            ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c",
             "select count(*) from work_items group by claimed_by order by 1 desc"],
            capture_output=True, check=True).stdout.decode().split()
        return elapsed, per_node
    finally:
        for s in servers:
            s.stop()
        psql(f"drop database if exists {db}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/dataguardian"))
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=3)
    args = p.parse_args()
    if not os.path.exists(args.binary):
        args.binary = os.path.join(ROOT, "target/debug/dataguardian")
    work = tempfile.mkdtemp(prefix="dg-cluster-bench-")
    os.makedirs(os.path.join(work, "site"))
    for i in range(4):
        with open(os.path.join(work, "site", f"page{i}.html"), "w") as f:
            f.write(f"<p>page {i}</p>\n" * 100)
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "yes", "--dir", work],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    url = f"redis://127.0.0.1:{port}"
    print(f"binary {args.binary}; {args.jobs} backups of a {4 * 1400} B directory; "
          f"--backup-concurrency {args.concurrency} per node; {os.cpu_count()} cores")
    try:
        results = []
        for label, nodes, redis_url in [("embedded x1", 1, None), ("redis x1", 1, url),
                                        (f"redis x{args.nodes}", args.nodes, url)]:
            elapsed, per_node = run_config(args, work, label, nodes, redis_url)
            results.append((label, elapsed))
            rate = args.jobs / elapsed
            print(f"{label:12} {elapsed:7.2f} s  {rate:7.1f} backups/s  "
                  f"ratio to baseline {results[0][1] / elapsed:5.2f}  per node {'/'.join(per_node)}",
                  flush=True)
    finally:
        redis.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
