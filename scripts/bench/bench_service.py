"""Benchmark of the webapp against single-worker nginx and Flask + gunicorn.

Every server runs pinned to one core (taskset -c SERVER_CPU), wrk to the
other (taskset -c WRK_CPU), all on 127.0.0.1. Servers alternate inside each
round, in an order rotated by one each round, and each round starts every
server afresh, so slow drift of a shared, noisy machine hits all of them
alike; ratios are taken within a round.

Per server and round it records: start to first response, idle RSS, wrk's
requests/s and p50/p99 latency over a fixed duration, server CPU time per
request (utime + stime of the whole process tree from /proc, the steadier
figure when wrk itself saturates its core) and RSS after the load.

Run through scripts/bench-service.sh, which builds and installs what this
needs. Prints a Markdown report and writes the raw figures as JSON.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid):
    """The pid and all its descendants."""
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            children = []
        for child in map(int, children):
            tree.append(child)
            frontier.append(child)
    return tree


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
        except OSError:
            continue
    return total


def get_ok(port, path="/"):
    """One GET on a new connection; True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
            status_line = s.recv(16)
            return status_line.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False


class Server:
    def __init__(self, name, argv, env, port, cwd=None):
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.proc = None

    def start(self, cpu, log):
        """Starts the server pinned to `cpu`; returns seconds to first 200."""
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *self.argv],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + 30
        while time.perf_counter() < deadline:
            if get_ok(self.port):
                return time.perf_counter() - started
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited at start, see {log.name}")
            time.sleep(0.0005)
        raise SystemExit(f"bench: {self.name} did not answer within 30 s, see {log.name}")

    def pids(self):
        return process_tree(self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # SIGTERM to the process group: nginx and gunicorn masters and
            # their workers all stop; the webapp drains (drain set to 0).
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def parse_latency(text):
    match = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def run_wrk(port, path, seconds, connections, cpu):
    out = subprocess.run(
        ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    result = {"requests": int(re.search(r"(\d+) requests in", out).group(1))}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = parse_latency(found.group(1)) if found else None
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = (sum(map(int, errors.groups())) if errors else 0) + (
        int(non2xx.group(1)) if non2xx else 0)
    return result


def nginx_server(scratch, body, like_webapp_headers=()):
    """nginx with one worker answering `return 200` with the webapp's body.

    With `like_webapp_headers` it is the like-for-like reference for the
    webapp's default: it also sends those headers (wrk, near its own limit,
    pays for parsing each) and logs every request through a memory buffer
    flushed at least every 100 ms, as the webapp does."""
    port = free_port()
    name = "nginx-like" if like_webapp_headers else "nginx"
    conf = scratch / f"{name}.conf"
    log = (f"access_log {scratch}/{name}-access.log combined buffer=64k flush=100ms;"
           if like_webapp_headers else "access_log off;")
    extra = "\n".join(
        f'            add_header {header} "{value}" always;' for header, value in like_webapp_headers)
    conf.write_text(f"""worker_processes 1;
daemon off;
master_process on;
pid {scratch}/{name}.pid;
error_log {scratch}/{name}-error.log;
events {{ worker_connections 1024; }}
http {{
    {log}
    client_body_temp_path {scratch}/nginx-body;
    proxy_temp_path {scratch}/nginx-proxy;
    fastcgi_temp_path {scratch}/nginx-fastcgi;
    uwsgi_temp_path {scratch}/nginx-uwsgi;
    scgi_temp_path {scratch}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
{extra}
            return 200 '{body}';
        }}
    }}
}}
""")
    label = "nginx, webapp's headers and log" if like_webapp_headers else "nginx"
    return Server(label, ["nginx", "-c", str(conf), "-p", str(scratch)], dict(os.environ), port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webapp", required=True, help="the webapp binary")
    parser.add_argument("--flask-venv", required=True, help="virtualenv with flask and gunicorn")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--json", required=True, help="where to write the raw figures")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-service-"))
    here = Path(__file__).resolve().parent
    base_env = {"PATH": os.environ["PATH"]}

    def webapp(name, extra):
        port = free_port()
        env = {**base_env, "PORT": str(port), "SERVICE_LISTEN_ADDRESS": "127.0.0.1",
               "APP_ENV": "bench", "SERVICE_DRAIN_SECONDS": "0", **extra}
        return Server(name, [args.webapp], env, port)

    def flask():
        port = free_port()
        env = {**base_env, "APP_ENV": "bench"}
        argv = [str(Path(args.flask_venv).resolve() / "bin" / "gunicorn"), "--workers", "1", "--worker-class", "sync",
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "flask_app:app"]
        return Server("flask+gunicorn", argv, env, port, cwd=here)

    # nginx answers with the same JSON document the webapp serves on `/`.
    probe = webapp("probe", {})
    with open(scratch / "probe.log", "w") as log:
        probe.start(args.server_cpu, log)
    with socket.create_connection(("127.0.0.1", probe.port)) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    probe.stop()
    head, body = raw.decode().split("\r\n\r\n", 1)
    body = body.strip()
    # nginx adds its own Date, Content-Type and Content-Length (and Server).
    own = {"date", "content-type", "content-length", "connection"}
    webapp_headers = [tuple(part.strip() for part in line.split(":", 1))
                      for line in head.split("\r\n")[1:]]
    webapp_headers = [(k, v) for k, v in webapp_headers if k.lower() not in own]

    factories = [
        ("webapp", lambda: webapp("webapp", {})),
        ("webapp, access log off", lambda: webapp("webapp, access log off",
                                                  {"SERVICE_ACCESS_LOG": "off"})),
        ("nginx", lambda: nginx_server(scratch, body)),
        ("nginx, webapp's headers and log", lambda: nginx_server(scratch, body, webapp_headers)),
        ("flask+gunicorn", flask),
    ]
    results = []
    for round_no in range(1, args.rounds + 1):
        # Each round starts one server later in the list, so over the rounds
        # every server runs in every position: the run after Flask's, or after
        # a log file's writeback, is nobody's in particular.
        shift = (round_no - 1) % len(factories)
        for name, make in factories[shift:] + factories[:shift]:
            server = make()
            log_path = scratch / f"{name.split(',')[0]}-{round_no}.log"
            with open(log_path, "w") as log:
                try:
                    start_s = server.start(args.server_cpu, log)
                    time.sleep(0.2)
                    idle_rss = rss_kib(server.pids())
                    load_before = os.getloadavg()[0]
                    pids = server.pids()
                    cpu_before = cpu_seconds(pids)
                    wrk = run_wrk(server.port, "/", args.seconds, args.connections, args.wrk_cpu)
                    cpu_used = cpu_seconds(server.pids()) - cpu_before
                    loaded_rss = rss_kib(server.pids())
                finally:
                    server.stop()
            row = {"round": round_no, "server": name, "start_ms": start_s * 1e3,
                   "idle_rss_kib": idle_rss, "loaded_rss_kib": loaded_rss,
                   "cpu_us_per_request": cpu_used / wrk["requests"] * 1e6,
                   "server_cpu_share": cpu_used / args.seconds,
                   "load_average": load_before, **wrk}
            results.append(row)
            print(f"round {round_no} {name:24} {wrk['rps']:>10.0f} req/s "
                  f"{row['cpu_us_per_request']:7.2f} us/req  start {row['start_ms']:6.1f} ms  "
                  f"idle RSS {idle_rss / 1024:6.1f} MiB  errors {wrk['errors']}",
                  file=sys.stderr, flush=True)

    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    report(results, args)


def report(results, args):
    names = []
    for row in results:
        if row["server"] not in names:
            names.append(row["server"])

    def median(name, key):
        values = [r[key] for r in results if r["server"] == name and r[key] is not None]
        return statistics.median(values) if values else float("nan")

    print(f"Medians of {args.rounds} rounds, {args.seconds} s of wrk -t1 -c{args.connections} each, "
          f"server on CPU {args.server_cpu}, wrk on CPU {args.wrk_cpu}:\n")
    print("| server | requests/s | p50 | p99 | server CPU per request | server CPU share | idle RSS | RSS under load | start to first response |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        print(f"| {name} | {median(name, 'rps'):,.0f} | {median(name, 'p50') * 1e3:.2f} ms "
              f"| {median(name, 'p99') * 1e3:.2f} ms | {median(name, 'cpu_us_per_request'):.2f} µs "
              f"| {median(name, 'server_cpu_share') * 100:.0f}% "
              f"| {median(name, 'idle_rss_kib') / 1024:.1f} MiB | {median(name, 'loaded_rss_kib') / 1024:.1f} MiB "
              f"| {median(name, 'start_ms'):.1f} ms |")

    def by_round(name):
        return {r["round"]: r for r in results if r["server"] == name}

    rounds = {name: by_round(name) for name in names}
    pairs = [
        ("webapp", "nginx"),
        ("webapp, access log off", "nginx"),
        ("webapp", "nginx, webapp's headers and log"),
        ("webapp", "flask+gunicorn"),
    ]
    print("\nRatios within each round (requests/s ratio, then server CPU per request ratio; "
          "above 1 and below 1 respectively favour the first server):\n")
    print("| round | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " | load average |")
    print("|---|" + "---:|" * (len(pairs) + 1))
    for round_no in sorted(rounds["webapp"]):
        cells = []
        for a, b in pairs:
            ra, rb = rounds[a][round_no], rounds[b][round_no]
            cells.append(f"{ra['rps'] / rb['rps']:.2f} req/s, "
                         f"{ra['cpu_us_per_request'] / rb['cpu_us_per_request']:.2f} CPU")
        print(f"| {round_no} | " + " | ".join(cells) + f" | {rounds['webapp'][round_no]['load_average']:.2f} |")
    # The median of the per-round ratios is the figure to compare with a
    # target: each ratio pairs runs minutes apart, so machine drift cancels.
    cells = []
    for a, b in pairs:
        ratios = [(rounds[a][n]["rps"] / rounds[b][n]["rps"],
                   rounds[a][n]["cpu_us_per_request"] / rounds[b][n]["cpu_us_per_request"])
                  for n in sorted(rounds["webapp"])]
        cells.append(f"**{statistics.median(r for r, _ in ratios):.2f} req/s, "
                     f"{statistics.median(c for _, c in ratios):.2f} CPU**")
    print("| median | " + " | ".join(cells) + " | |")
    errors = sum(r["errors"] for r in results)
    print(f"\nwrk reported {errors} socket errors or non-2xx responses in all runs.")


if __name__ == "__main__":
    main()
