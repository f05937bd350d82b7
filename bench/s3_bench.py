#!/usr/bin/env python3
"""S3 upload throughput, memory and restore reads (not a test).

Starts moto (S3-compatible, signatures checked; tests/it/fixtures) on
loopback, writes files of random (incompressible) bytes at two sizes, then
in the same run, for each size:
  baseline:  boto3 upload_file of the file (default multipart settings:
             8 MiB parts, 10 threads), the `aws s3 cp` equivalent
  candidate: dataguardian backup --engine files --compression none to the
             same server (storage type minio, default 16 MiB parts)
and reports wall-time ratio (candidate / baseline, median of N runs) and
peak RSS of dataguardian. Then restores the small backup from S3 through a
counting proxy and reports the bytes read from the bucket against the
artifact size.

Usage: bench/s3_bench.py [--small-mb 200] [--large-mb 2048] [--runs 3]
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "host/tests/it/fixtures/s3_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd):
    """Wall seconds and peak RSS (KiB) of cmd, via GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {out.stderr[-2000:]}")
        return wall, int(report.read().strip().splitlines()[-1]), out.stdout


class CountingProxy(threading.Thread):
    """Forwards TCP to upstream and counts the bytes coming back."""

    def __init__(self, upstream_port):
        super().__init__(daemon=True)
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.lock = threading.Lock()

    def pipe(self, src, dst, count):
        try:
            while data := src.recv(1 << 20):
                if count:
                    with self.lock:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def run(self):
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small-mb", type=int, default=200)
    ap.add_argument("--large-mb", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "dataguardian"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target/release/dataguardian")
    port = free_port()
    moto = subprocess.Popen([sys.executable, FIXTURE, "serve", str(port), str(5 << 20)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    s3 = json.loads(moto.stdout.readline())
    import boto3
    client = boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key_id"],
                          aws_secret_access_key=s3["secret_access_key"], region_name="us-east-1")
    config = {"bucket": s3["bucket"], "endpoint": s3["endpoint"], "access_key_id": s3["access_key_id"],
              "secret_access_key": s3["secret_access_key"]}
    try:
        with tempfile.TemporaryDirectory() as work:
            data = os.path.join(work, "data")
            subprocess.run([binary, "--data-dir", data, "plugin", "list"], check=True, stdout=subprocess.DEVNULL)
            print(f"{'size':>8} {'boto3 upload_file':>18} {'dataguardian':>13} {'ratio':>6} {'peak RSS':>9}")
            small_backup = None
            for mb in (a.small_mb, a.large_mb):
                src = os.path.join(work, f"src-{mb}")
                os.makedirs(src)
                path = os.path.join(src, "payload.bin")
                with open(path, "wb") as f:
                    for _ in range(mb):
                        f.write(os.urandom(1 << 20))
                base, cand, rss = [], [], []
                for r in range(a.runs):
                    start = time.perf_counter()
                    client.upload_file(path, s3["bucket"], f"baseline/{mb}-{r}")
                    base.append(time.perf_counter() - start)
                    client.delete_object(Bucket=s3["bucket"], Key=f"baseline/{mb}-{r}")
                    wall, peak, out = timed([binary, "--data-dir", data, "backup", "--engine", "files",
                                             "--source", src, "--storage", "minio",
                                             "--storage-config", json.dumps(config),
                                             "--job-id", f"bench-{mb}-{r}", "--compression", "none"])
                    cand.append(wall)
                    rss.append(peak)
                    if mb == a.small_mb and small_backup is None:
                        small_backup = json.loads(out)
                b, c = statistics.median(base), statistics.median(cand)
                print(f"{mb:>6}MB {b:>17.2f}s {c:>12.2f}s {c/b:>6.3f} {max(rss)/1024:>7.1f}MB", flush=True)
                os.remove(path)

            proxy = CountingProxy(port)
            proxy.start()
            counted = dict(config, endpoint=f"http://127.0.0.1:{proxy.port}")
            target = os.path.join(work, "restored")
            wall, peak, _ = timed([binary, "--data-dir", data, "restore", "--engine", "files",
                                   "--target", target, "--storage", "minio",
                                   "--storage-config", json.dumps(counted),
                                   "--from", small_backup["execution_path"]])
            artifact = small_backup["compressed_size_bytes"]
            print(f"restore of the {a.small_mb} MB backup from S3: {wall:.2f}s, peak RSS {peak/1024:.1f}MB, "
                  f"{proxy.received} bytes read from the bucket for a {artifact}-byte artifact "
                  f"({proxy.received / artifact:.4f}x)")
    finally:
        moto.kill()


if __name__ == "__main__":
    sys.exit(main())
