"""The last step of `make bench` (bench/run.sh): merges the parts written by
bench/pyc_bench.erl (pyc.json, and pyc_inflight.json for the in-flight rows)
and bench/http_servers.py (http.json) into results.json, results.md and
results.png, and exits non-zero when a scenario (of those BENCH_ONLY selects)
served nothing, had errors, or is missing.

    /usr/bin/python3 bench/report.py --parts DIR --out DIR --binary PATH \
        --knobs key=value ...
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

SCENARIOS = {  # id: label, in table order
    "ping": "ping (no Python)",
    "call_add": "call add(1, 2)",
    "asgi_hello": "ASGI hello",
    "asgi_hello_via_call": "ASGI hello via generic call (event loop)",
    "asgi_hello_via_call_bare": "ASGI hello via generic call, no event loop (hello-only)",
    "wsgi_hello": "WSGI hello",
    "starlette_json": "Starlette JSON",
    "flask_json": "Flask JSON",
    "echo_64k": "ASGI echo 64 KiB",
    "echo_1m": "ASGI echo 1 MiB",
    # the in-flight rows: one concurrency each (bench/run.sh)
    "asgi_sleep": "ASGI sleep 20 ms",
    "wsgi_sleep": "WSGI sleep 20 ms",
    "call_async_sleep": "async call sleep 20 ms",
    "asgi_hello_parked": "ASGI hello, requests parked",
}
INFLIGHT = ["asgi_sleep", "wsgi_sleep", "call_async_sleep", "asgi_hello_parked"]
SERVERS = {"erlang": "Erlang gen_server", "pycnode": "pycnode",
           "uvicorn": "uvicorn (uvloop, httptools)", "gunicorn": "gunicorn (sync)",
           "gunicorn_gthread": "gunicorn (gthread)"}
MIB = 1024 * 1024


def label(r):
    if r["scenario"] == "asgi_hello_parked":
        return f"ASGI hello with {r.get('parked', '?')} ASGI requests parked"
    return SCENARIOS[r["scenario"]]


# ---- reading and deriving -------------------------------------------------

def load(parts):
    merged = {"meta": {}, "results": []}
    for name in ("pyc.json", "pyc_inflight.json", "http.json"):
        path = os.path.join(parts, name)
        if os.path.exists(path):
            with open(path) as f:
                part = json.load(f)
            merged["meta"][name.split(".")[0]] = part["meta"]
            merged["results"] += part["results"]
    idle = os.path.join(parts, "idle.json")
    if os.path.exists(idle):
        with open(idle) as f:
            merged["idle"] = json.load(f)
    for r in merged["results"]:  # the figures every table and ratio uses
        r["cpu_us_per_req"] = r["cpu_s"] * 1e6 / r["requests"] if r["requests"] else None
        r["body_mib_s"] = r["body_bytes"] * r["rps"] / MIB if r["body_bytes"] else None
    order = list(SCENARIOS)
    merged["results"].sort(key=lambda r: (order.index(r["scenario"]), list(SERVERS).index(r["server"]),
                                          r["concurrency"]))
    return merged


def machine(started, binary, pyc_meta, http_meta, knobs):
    def cmd(*args):
        try:
            return subprocess.run(args, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return {"date": started or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu_model": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "otp_release": pyc_meta.get("otp_release"), "erts_version": pyc_meta.get("erts_version"),
            "python": sys.version.split()[0] + " (" + sys.executable + ")",
            "pycnode_binary": binary, "pycnode_python": pyc_meta.get("pycnode", {}),
            "git_commit": cmd("git", "rev-parse", "--short", "HEAD")
                          + (" (with local changes)" if cmd("git", "status", "--porcelain") else ""),
            "uvicorn": http_meta.get("uvicorn"), "gunicorn": http_meta.get("gunicorn"),
            "wrk": http_meta.get("wrk"), "knobs": knobs}


def find(results, scenario, server, n):
    return next((r for r in results if (r["scenario"], r["server"], r["concurrency"]) == (scenario, server, n)),
                None)


def problems(results, concurrency, inflight_callers, only):
    """Why the run is not good: missing rows, rows with no success, errors."""
    expected = [(s, "erlang", concurrency) for s in ("ping", "echo_64k", "echo_1m")] + [
        (s, "pycnode", concurrency) for s in SCENARIOS if s not in INFLIGHT] + [
        (s, server, concurrency) for s, server in [("asgi_hello", "uvicorn"), ("starlette_json", "uvicorn"),
                                                   ("wsgi_hello", "gunicorn"), ("flask_json", "gunicorn")]] + [
        (s, server, [inflight_callers]) for s, server in [
            ("asgi_sleep", "pycnode"), ("asgi_sleep", "uvicorn"), ("wsgi_sleep", "pycnode"),
            ("wsgi_sleep", "gunicorn_gthread"), ("call_async_sleep", "pycnode")]] + [
        ("asgi_hello_parked", "pycnode", [1])]
    found = []
    for scenario, server, ns in expected:
        if only and scenario not in only:
            continue
        for n in ns:
            r = find(results, scenario, server, n)
            where = f"{scenario} on {server} at N={n}"
            if r is None:
                found.append(f"{where}: not measured")
            elif r["requests"] == 0:
                found.append(f"{where}: no successful request")
            elif r["errors"]:
                found.append(f"{where}: {r['errors']} errors")
    return found


# ---- Markdown ---------------------------------------------------------------

def ms(us):
    return f"{us / 1000:.3f}"


def num(x, fmt="{:,.0f}", missing="n/a"):
    return missing if x is None else fmt.format(x)


def ratio(a, b):
    return a / b if a is not None and b else None


def results_table(results):
    lines = ["| scenario | server | N | req/s | p50 ms | p90 ms | p99 ms | max ms | errors "
             "| CPU us/req | peak RSS MiB | body MiB/s per direction |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {label(r)} | {SERVERS[r['server']]} | {r['concurrency']} "
                     f"| {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p90_us'])} | {ms(r['p99_us'])} "
                     f"| {ms(r['max_us'])} | {r['errors']} | {num(r['cpu_us_per_req'], '{:.1f}')} "
                     f"| {r['peak_rss_kib'] / 1024:.1f} | {num(r['body_mib_s'], missing='')} |")
    return lines


def inflight_table(results, knobs):
    """The in-flight rows next to their anchors: req/s and p50/p99."""
    c, t = int(knobs.get("inflight_callers", 64)), knobs.get("wsgi_threads", "?")
    rows = [(f"ASGI sleep 20 ms, {c} callers", "asgi_sleep", "pycnode", "asgi_sleep", "uvicorn",
             f"uvicorn (uvloop, httptools, 1 process), wrk -c{c}", ">= 0.9x"),
            (f"WSGI sleep 20 ms, {c} callers", "wsgi_sleep", "pycnode", "wsgi_sleep", "gunicorn_gthread",
             f"gunicorn -k gthread --threads {t} -w 1, wrk -c{c}", ">= 0.9x"),
            (f"async call sleep 20 ms, {c} callers", "call_async_sleep", "pycnode", "asgi_sleep", "pycnode",
             "pycnode's ASGI sleep 20 ms (first row)", ">= 0.9x"),
            (f"ASGI hello, 1 caller, {c} ASGI requests parked", "asgi_hello_parked", "pycnode", None, None,
             "none", "p99 < 5 ms")]
    out = [f"### Many requests in flight ({c} callers, apps that wait 20 ms)", "",
           f"pycnode: a second instance started with `--threads {t}`; the Erlang rows are {c} callers "
           f"making one `gen_server:call` at a time, the HTTP anchors `wrk -t1 -c{c}`. A server that keeps "
           f"all {c} waiting at once serves at most {c} / 20 ms = {c / 0.02:,.0f} req/s; one with "
           f"{t} WSGI threads at most {t} / 20 ms"
           + (f" = {int(t) / 0.02:,.0f} req/s." if str(t).isdigit() else ".")
           + " The parked row: that many ASGI requests wait on an event, set only after the "
           "measurement, while 1 caller measures the ASGI hello.", "",
           "| row | pycnode req/s | p50 ms | p99 ms | anchor | anchor req/s | anchor p50 ms | anchor p99 ms "
           "| ratio | target |",
           "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for text, s, server, anchor_s, anchor_server, anchor, target in rows:
        n = 1 if s == "asgi_hello_parked" else c
        r = find(results, s, server, n)
        a = anchor_s and find(results, anchor_s, anchor_server, c)
        out.append(f"| {text} | {num(r and r['rps'])} | {num(r and r['p50_us'] / 1000, '{:.3f}')} "
                   f"| {num(r and r['p99_us'] / 1000, '{:.3f}')} | {anchor} | {num(a and a['rps'], missing='')} "
                   f"| {num(a and a['p50_us'] / 1000, '{:.3f}', '')} | {num(a and a['p99_us'] / 1000, '{:.3f}', '')} "
                   f"| {num(ratio(r and r['rps'], a and a['rps']), '{:.2f}x', '')} | {target} |")
    return out


def ratio_tables(results, concurrency, head):
    def rps(s, server, n):
        r = find(results, s, server, n)
        return r and r["rps"]

    def cpu(s, server, n):
        r = find(results, s, server, n)
        return r and r["cpu_us_per_req"]

    def bold(n, text):
        return f"**{text}**" if n == head else text

    out = ["### ASGI hello against the Erlang floor (req/s)", "",
           "| N | pycnode ASGI hello | Erlang gen_server ping | ratio |", "| ---: | ---: | ---: | ---: |"]
    for n in concurrency:
        a, f = rps("asgi_hello", "pycnode", n), rps("ping", "erlang", n)
        out.append(f"| {bold(n, n)} | {num(a)} | {num(f)} | {bold(n, num(ratio(a, f), '{:.2f}x'))} |")
    out += ["", "### Specialised ASGI request against the generic call path", "",
            "The generic call runs the app on a per-thread asyncio loop (`run_until_complete`), which any "
            "ASGI app needs; the bare variant drives the coroutine by hand and works only for apps that "
            "never await I/O (shown as the cheapest a generic call could be).", "",
            "| N | `{asgi, ...}` req/s | `{call, ...}` req/s | ratio | bare `{call, ...}` req/s | ratio "
            "| CPU us/req asgi | CPU us/req call | CPU us/req bare call |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in concurrency:
        a, g = rps("asgi_hello", "pycnode", n), rps("asgi_hello_via_call", "pycnode", n)
        b = rps("asgi_hello_via_call_bare", "pycnode", n)
        out.append(f"| {bold(n, n)} | {num(a)} | {num(g)} | {bold(n, num(ratio(a, g), '{:.2f}x'))} "
                   f"| {num(b)} | {num(ratio(a, b), '{:.2f}x')} "
                   f"| {num(cpu('asgi_hello', 'pycnode', n), '{:.1f}')} "
                   f"| {num(cpu('asgi_hello_via_call', 'pycnode', n), '{:.1f}')} "
                   f"| {num(cpu('asgi_hello_via_call_bare', 'pycnode', n), '{:.1f}')} |")
    out += ["", "### pycnode against uvicorn and gunicorn (same app code)", "",
            "| app | other server | N | req/s pycnode | req/s other | ratio | CPU us/req pycnode "
            "| CPU us/req other | CPU ratio |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s, other in [("asgi_hello", "uvicorn"), ("starlette_json", "uvicorn"),
                     ("wsgi_hello", "gunicorn"), ("flask_json", "gunicorn")]:
        for n in concurrency:
            p, o = rps(s, "pycnode", n), rps(s, other, n)
            pc, oc = cpu(s, "pycnode", n), cpu(s, other, n)
            out.append(f"| {SCENARIOS[s]} | {SERVERS[other]} | {bold(n, n)} | {num(p)} | {num(o)} "
                       f"| {num(ratio(p, o), '{:.2f}x')} | {num(pc, '{:.1f}')} | {num(oc, '{:.1f}')} "
                       f"| {num(ratio(pc, oc), '{:.2f}x')} |")
    return out


# Requests/s of one caller making ASGI hello calls to an in-VM (NIF)
# implementation of the same Erlang API on this kind of machine: what a
# remote pycnode is to beat at 1 caller.
IN_VM_ASGI_HELLO_1_CALLER = 17200


def targets(results, head, inflight_callers, idle=None):
    """(target, measured, met) rows, at N = head unless they say otherwise;
    met is None for a target whose rows were not measured."""
    def get(s, server, key, n=head):
        r = find(results, s, server, n)
        return r and r[key]

    def row(text, value, shown, ok):
        return (text, "n/a" if value is None else shown, None if value is None else ok(value))

    c = inflight_callers
    asgi_sleep = get("asgi_sleep", "pycnode", "rps", c)
    sleep_asgi = ratio(asgi_sleep, get("asgi_sleep", "uvicorn", "rps", c))
    sleep_wsgi = ratio(get("wsgi_sleep", "pycnode", "rps", c), get("wsgi_sleep", "gunicorn_gthread", "rps", c))
    sleep_call = ratio(get("call_async_sleep", "pycnode", "rps", c), asgi_sleep)
    parked_p99 = get("asgi_hello_parked", "pycnode", "p99_us", 1)

    floor = ratio(get("asgi_hello", "pycnode", "rps"), get("ping", "erlang", "rps"))
    cpu = get("asgi_hello", "pycnode", "cpu_us_per_req")
    cpu_vs = ratio(cpu, get("asgi_hello", "uvicorn", "cpu_us_per_req"))
    spec = ratio(get("asgi_hello", "pycnode", "rps"), get("asgi_hello_via_call", "pycnode", "rps"))
    p99 = get("asgi_hello", "pycnode", "p99_us")
    big = get("echo_1m", "pycnode", "body_mib_s")
    big_1 = get("echo_1m", "pycnode", "body_mib_s", 1)
    big_vs_erlang = ratio(big, get("echo_1m", "erlang", "body_mib_s"))
    hello_p50, ping_p50 = get("asgi_hello", "pycnode", "p50_us", 1), get("ping", "pycnode", "p50_us", 1)
    over_ping = hello_p50 - ping_p50 if hello_p50 is not None and ping_p50 is not None else None
    hello_1 = get("asgi_hello", "pycnode", "rps", 1)
    own_floor = ratio(get("asgi_hello", "pycnode", "rps"), get("ping", "pycnode", "rps"))
    idle_cpu = idle and idle.get("cpu_percent")
    return [
        row("ASGI hello p50 at 1 caller <= pycnode's ping p50 + 15 us", over_ping,
            f"+{over_ping or 0:.0f} us", lambda v: v <= 15),
        row(f"ASGI hello req/s at 1 caller >= {IN_VM_ASGI_HELLO_1_CALLER:,} (an in-VM implementation's)", hello_1,
            f"{hello_1 or 0:,.0f}", lambda v: v >= IN_VM_ASGI_HELLO_1_CALLER),
        row(f"ASGI hello req/s at N={head} >= 0.9x pycnode's own ping", own_floor,
            f"{own_floor or 0:.2f}x", lambda v: v >= 0.9),
        row("idle pycnode CPU < 0.5% of a core", idle_cpu, f"{idle_cpu or 0:.2f}%", lambda v: v < 0.5),
        row(f"ASGI hello req/s at N={head} >= 0.9x the Erlang gen_server floor", floor,
            f"{floor or 0:.2f}x", lambda v: v >= 0.9),
        row("pycnode CPU per ASGI hello request <= 0.7x uvicorn's", cpu_vs,
            f"{cpu_vs or 0:.2f}x", lambda v: v <= 0.7),
        row("pycnode CPU per ASGI hello request <= 15 us", cpu, f"{cpu or 0:.1f} us", lambda v: v <= 15),
        row("specialised ASGI >= 2x the generic call path (req/s)", spec, f"{spec or 0:.2f}x",
            lambda v: v >= 2),
        row(f"ASGI hello p99 at {head} callers <= 5 ms", p99, f"{(p99 or 0) / 1000:.3f} ms",
            lambda v: v <= 5000),
        row(f"1 MiB bodies at N={head} >= 1024 MiB/s per direction", big, f"{big or 0:,.0f} MiB/s",
            lambda v: v >= 1024),
        row("1 MiB bodies at 1 caller >= 1024 MiB/s per direction", big_1, f"{big_1 or 0:,.0f} MiB/s",
            lambda v: v >= 1024),
        row(f"1 MiB echo at N={head}: pycnode >= the same echo between two Erlang nodes", big_vs_erlang,
            f"{big_vs_erlang or 0:.2f}x", lambda v: v >= 1),
        row(f"ASGI sleep 20 ms, {c} callers: pycnode >= 0.9x uvicorn (req/s)", sleep_asgi,
            f"{sleep_asgi or 0:.2f}x", lambda v: v >= 0.9),
        row(f"WSGI sleep 20 ms, {c} callers: pycnode >= 0.9x gunicorn gthread, same threads (req/s)",
            sleep_wsgi, f"{sleep_wsgi or 0:.2f}x", lambda v: v >= 0.9),
        row(f"async call sleep 20 ms, {c} callers >= 0.9x pycnode's ASGI sleep 20 ms (req/s)", sleep_call,
            f"{sleep_call or 0:.2f}x", lambda v: v >= 0.9),
        row(f"ASGI hello p99, 1 caller, {c} ASGI requests parked < 5 ms", parked_p99,
            f"{(parked_p99 or 0) / 1000:.3f} ms", lambda v: v < 5000),
    ]


def markdown(merged, head):
    m, results = merged["machine"], merged["results"]
    py = m["pycnode_python"]
    concurrency = sorted({r["concurrency"] for r in results})
    lines = ["# pycnode benchmark", "",
             f"{m['date']}, {m['cpu_model']}, {m['cores']} cores, Linux {m['kernel']}, "
             f"OTP {m['otp_release']} (erts {m['erts_version']}), Python {m['python']}; "
             f"pycnode `{m['pycnode_binary']}` (commit {m['git_commit']}): Python "
             f"{py.get('python_version')}, free-threaded {py.get('free_threaded')}, "
             f"GIL {py.get('gil_enabled')}, {py.get('workers')} workers, {py.get('threads')} blocking "
             f"threads (the in-flight rows: {m['knobs'].get('wsgi_threads')}); uvicorn {m['uvicorn']}, "
             f"gunicorn {m['gunicorn']}, {m['wrk']}.", "",
             "Knobs: " + ", ".join(f"{k}={v}" for k, v in m["knobs"].items()) + ".", "",
             "Erlang rows: N caller processes on one Erlang node, each making one "
             "`gen_server:call` at a time; HTTP rows: `wrk -t1 -cN`, N keep-alive connections "
             "(gunicorn's sync worker closes each one after its response). The client shares the "
             "machine with the server. CPU us/req is the server's user+system CPU over the "
             "measured window (pycnode: all its threads; the floor: the gen_server's node; "
             "gunicorn: master + worker) divided by the requests served in it; peak RSS is VmHWM "
             "over the same window (gunicorn: the sum over its processes). The Erlang nodes run "
             f"with extra flags: {m['knobs'].get('erl_flags', 'none')} (none: their schedulers spin briefly "
             "before sleeping, as users run them). "
             f"CPU pinning (pin=SERVER_CPUS:CLIENT_CPUS, taskset): {m['knobs'].get('pin', 'none')}. "
             "ASGI echo: each request carries the body both ways (request body in, the same "
             "bytes back), so MiB/s is per direction: body size x req/s.", "",
             "## Results", ""]
    lines += results_table(results)
    lines += ["", f"## Ratios (N = {head} in bold)", ""]
    lines += ratio_tables(results, concurrency, head)
    lines += [""] + inflight_table(results, m["knobs"])
    lines += ["", f"## Targets (at N = {head} unless stated)", "", "| target | measured | |",
              "| --- | ---: | --- |"]
    lines += [f"| {t} | {v} | {'not measured' if ok is None else 'met' if ok else '**not met**'} |"
              for t, v, ok in merged["targets"]]
    if merged["problems"]:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in merged["problems"]]
    return "\n".join(lines) + "\n"


# ---- the plot -----------------------------------------------------------------

def plot(results, head, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Colour: the app; line and marker: the server (the floor in black).
    styles = {"pycnode": ("-", "o"), "erlang": (":", "s"), "uvicorn": ("--", "^"), "gunicorn": ("-.", "v"),
              "gunicorn_gthread": ("-.", "D")}
    colours = dict(zip([s for s in SCENARIOS if s not in INFLIGHT], plt.get_cmap("tab10").colors))
    # The in-flight rows ran at one N each: only on the right.
    series = sorted({(r["scenario"], r["server"]) for r in results if r["scenario"] not in INFLIGHT},
                    key=lambda k: (list(SCENARIOS).index(k[0]), list(SERVERS).index(k[1])))
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 8.5))
    for s, server in series:
        rows = [r for r in results if (r["scenario"], r["server"]) == (s, server)]
        line, marker = styles[server]
        left.plot([r["concurrency"] for r in rows], [r["rps"] for r in rows], line, marker=marker,
                  color="black" if server == "erlang" else colours[s],
                  label=f"{SCENARIOS[s]} / {SERVERS[server]}")
    left.set_xscale("log", base=2)
    concurrency = sorted({r["concurrency"] for r in results if r["scenario"] not in INFLIGHT})
    left.set_xticks(concurrency, [str(n) for n in concurrency])
    left.set_yscale("log")
    left.set_xlabel("concurrency N (callers or connections)")
    left.set_ylabel("requests/s")
    left.set_title("Throughput against concurrency")
    left.grid(True, which="both", alpha=0.3)
    if series:  # none when BENCH_ONLY names in-flight rows only
        left.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.1))

    # and the in-flight rows, at whatever N they ran
    at_head = [r for r in results if r["concurrency"] == head or r["scenario"] in INFLIGHT]
    names = [f"{label(r)} / {SERVERS[r['server']]}, N={r['concurrency']}" for r in at_head]
    ys = range(len(at_head))
    right.barh([y + 0.2 for y in ys], [r["p50_us"] / 1000 for r in at_head], 0.4, label="p50")
    right.barh([y - 0.2 for y in ys], [r["p99_us"] / 1000 for r in at_head], 0.4, label="p99")
    right.set_yticks(list(ys))
    right.set_yticklabels(names, fontsize=7)
    right.invert_yaxis()
    right.set_xscale("log")
    right.set_xlabel("latency, ms (log scale)")
    right.set_title(f"Latency at N = {head} (the in-flight rows at their own N)")
    right.grid(True, axis="x", which="both", alpha=0.3)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--parts", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--started", help="when the run started (default: now)")
    p.add_argument("--knobs", nargs="*", default=[])
    args = p.parse_args()
    merged = load(args.parts)
    knobs = dict(k.split("=", 1) for k in args.knobs)
    concurrency = [int(c) for c in knobs.get("concurrency", "").split()] or \
        sorted({r["concurrency"] for r in merged["results"]})
    # The headline concurrency of the ratios and targets: 64 when measured.
    head = 64 if 64 in concurrency else max(concurrency)
    inflight_callers = int(knobs.get("inflight_callers", 64))
    only = set(knobs.get("only", "all").replace(",", " ").split()) - {"all"}
    pyc_meta = merged["meta"].get("pyc") or merged["meta"].get("pyc_inflight", {})  # BENCH_ONLY
    merged["machine"] = machine(args.started, args.binary, pyc_meta,
                                merged["meta"].get("http", {}), knobs)
    merged["targets"] = [{"target": t, "measured": v, "met": ok} for t, v, ok in
                         targets(merged["results"], head, inflight_callers, merged.get("idle"))]
    merged["problems"] = problems(merged["results"], concurrency, inflight_callers, only)
    del merged["meta"]  # folded into machine
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(merged, f, indent=1)
    merged["targets"] = [(t["target"], t["measured"], t["met"]) for t in merged["targets"]]
    text = markdown(merged, head)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    plot(merged["results"], head, os.path.join(args.out, "results.png"))
    print(text[text.index("## Ratios"):])  # the ratios and targets, as in results.md
    print(f"bench: wrote {args.out}/results.json, results.md, results.png", file=sys.stderr)
    if merged["problems"]:
        print("bench: FAILED:\n  " + "\n  ".join(merged["problems"]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
