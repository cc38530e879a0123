"""The HTTP half of `make bench` (bench/run.sh): what users pick instead of
pycnode, serving the same apps (bench/apps) on a free loopback port, one
server at a time, driven by wrk at each concurrency. The server's CPU time
(all its processes: gunicorn's master and worker) and peak RSS come from
/proc over the measured wrk run only, as bench/pyc_bench.erl does for pycnode.

    /usr/bin/python3 bench/http_servers.py --out FILE --logs DIR --seconds 5 \
        --warmup-ms 1000 --concurrency "1 16 64 256" \
        [--inflight-callers 64] [--wsgi-threads 32] [--only "asgi_sleep wsgi_sleep"]

The in-flight rows (apps that wait 20 ms) run at --inflight-callers
connections only, whatever --concurrency says; gunicorn serves the WSGI one
with its gthread worker and --wsgi-threads threads, as pycnode does with
--threads (bench/run.sh). --only: scenario ids to run (BENCH_ONLY), all if
empty.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, like pycnode's own
CLK_TCK = os.sysconf("SC_CLK_TCK")
# BENCH_PIN="SERVER_CPUS:CLIENT_CPUS" (bench/run.sh): taskset prefixes.
_PIN = os.environ.get("BENCH_PIN", "")
SERVER_PIN = ["taskset", "-c", _PIN.split(":")[0]] if _PIN else []
CLIENT_PIN = ["taskset", "-c", _PIN.split(":")[1]] if _PIN else []

# (scenario, server, app, in-flight row): the same scenario ids as pycnode's rows.
SERVERS = [
    ("asgi_hello", "uvicorn", "bench_app:hello", False),
    ("starlette_json", "uvicorn", "bench_starlette:app", False),
    ("wsgi_hello", "gunicorn", "bench_app:wsgi_hello", False),
    ("flask_json", "gunicorn", "bench_flask:app", False),
    ("asgi_sleep", "uvicorn", "bench_app:asgi_sleep", True),
    ("wsgi_sleep", "gunicorn_gthread", "bench_app:wsgi_sleep", True),
]
EXPECTED = {"asgi_hello": b"Hello, World!", "wsgi_hello": b"Hello, World!",
            "starlette_json": b'{"hello":"world"}', "flask_json": b'{"hello":"world"}',
            "asgi_sleep": b"Hello, World!", "wsgi_sleep": b"Hello, World!"}


def command(server, app, port, wsgi_threads):
    if server == "uvicorn":
        return [PYTHON, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools",
                "--no-access-log", "--log-level", "warning",
                "--host", "127.0.0.1", "--port", str(port), app]
    worker = ["-k", "sync"] if server == "gunicorn" else ["-k", "gthread", "--threads", str(wsgi_threads)]
    return [PYTHON, "-m", "gunicorn", "-w", "1", *worker, "--log-level", "warning",
            "--bind", f"127.0.0.1:{port}", app]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(proc, url, scenario):
    """Polls until the server answers with the app's body; fails if it exits."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{scenario}: server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                body = response.read()
        except OSError:
            time.sleep(0.1)
            continue
        if body.strip() != EXPECTED[scenario]:
            raise RuntimeError(f"{scenario}: unexpected body {body[:200]!r}")
        return
    raise RuntimeError(f"{scenario}: server not answering after 30 s")


def server_pids(root):
    """`root` and its children (gunicorn's workers), from /proc."""
    pids = [root]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == root:
                pids.append(int(entry))
    return pids


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def wrk(url, connections, seconds):
    out = subprocess.run(CLIENT_PIN + ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", os.path.join(HERE, "wrk_json.lua"), url],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise RuntimeError(f"no WRK_JSON line in wrk's output:\n{out}")


def measure(scenario, server, proc, url, n, seconds, warmup_s):
    if warmup_s:
        wrk(url, n, warmup_s)
    pids = server_pids(proc.pid)
    for pid in pids:  # peak RSS from here on
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    ticks = sum(cpu_ticks(pid) for pid in pids)
    w = wrk(url, n, seconds)
    cpu_s = (sum(cpu_ticks(pid) for pid in pids) - ticks) / CLK_TCK
    duration_s = w["duration_us"] / 1e6
    lat = w["latency_us"]
    return {"scenario": scenario, "server": server, "concurrency": n,
            "requests": w["requests"], "errors": sum(w["errors"].values()),
            "error_kinds": w["errors"], "rps": w["requests"] / duration_s,
            "duration_s": duration_s, "p50_us": lat["p50"], "p90_us": lat["p90"],
            "p99_us": lat["p99"], "max_us": lat["max"], "cpu_s": cpu_s,
            # gunicorn: the sum of its processes' peaks
            "peak_rss_kib": sum(vm_hwm_kib(pid) for pid in pids), "body_bytes": 0}


def run_server(scenario, server, app, inflight, args, results):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "apps"))
    with open(os.path.join(args.logs, f"{server}_{scenario}.log"), "w") as log:
        proc = subprocess.Popen(SERVER_PIN + command(server, app, port, args.wsgi_threads),
                                env=env, stdout=log, stderr=log)
    try:
        wait_until_answering(proc, url, scenario)
        for n in [args.inflight_callers] if inflight else args.concurrency:
            r = measure(scenario, server, proc, url, n, args.seconds, args.warmup_s)
            results.append(r)
            cpu_us = r["cpu_s"] * 1e6 / r["requests"] if r["requests"] else 0.0
            print(f"{scenario:<20} {server:<9} N={n:<4} {r['rps']:9.0f} req/s  "
                  f"p99 {r['p99_us'] / 1000:8.3f} ms  cpu {cpu_us:7.1f} us/req  "
                  f"errors {r['errors']}", flush=True)
    finally:
        stop(proc)


def stop(proc):
    proc.terminate()  # gunicorn's master stops its worker
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:  # slow to stop, or Ctrl-C came meanwhile
            proc.kill()
            proc.wait()


def versions():
    def first_line(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True)
        except OSError:
            return "unknown"
        return (out.stdout or out.stderr).strip().split("\n")[0]
    return {"uvicorn": first_line([PYTHON, "-c", "import uvicorn; print(uvicorn.__version__)"]),
            "gunicorn": first_line([PYTHON, "-c", "import gunicorn; print(gunicorn.__version__)"]),
            "wrk": first_line(["wrk", "-v"]).split(" [")[0]}  # less its copyright


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--logs", required=True)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--warmup-ms", type=int, default=1000)
    p.add_argument("--concurrency", default="1 16 64 256")
    p.add_argument("--inflight-callers", type=int, default=64)
    p.add_argument("--wsgi-threads", type=int, default=32)
    p.add_argument("--only", default="")
    args = p.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split()]
    only = args.only.replace(",", " ").split()
    # wrk counts whole seconds; under half a second (smoke runs), the server's
    # first answers in wait_until_answering are its only warm-up.
    args.warmup_s = int(args.warmup_ms / 1000 + 0.5)
    # run.sh's kill, like Ctrl-C, unwinds through the finally that stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    results = []
    interrupted = False
    try:
        for scenario, server, app, inflight in SERVERS:
            if not only or scenario in only:
                run_server(scenario, server, app, inflight, args, results)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with open(args.out, "w") as f:
            json.dump({"meta": versions(), "results": results}, f, indent=1)
    if interrupted:  # die of SIGINT, without a traceback, so run.sh stops too
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    main()
