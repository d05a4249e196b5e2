#!/usr/bin/python3
"""What the request layer costs: wrk against one httpd, every figure from the same run.

    make -f Makefile.apxs bench-requests            (or: /usr/bin/python3 bench/request_bench.py)

Starts the fake Meta server and a real httpd with the built module (tests/harness.py), connects
one account, then runs wrk (keep-alive connections, --latency) against:

  1. GET /static.txt (25 bytes) from the same httpd           the reference
  2. GET /ig/api/accounts (one account)                        target >= 0.80 of 1
  3. POST /ig/publish, "wait": 0 (a durable job row, SQLite)    target >= 0.25 of 1, p99 < 50 ms
  4. GET /static.txt from the same configuration without the module: what loading the module
     costs requests it does not handle (target: within noise)

and prints req/s, latency percentiles and the ratios. It never fails on a timing; targets are
printed as MET / NOT MET next to the figures. Everything it starts is stopped at the end.
"""
import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import FakeMeta, Httpd, MODULE  # noqa: E402
import flows  # noqa: E402

# @RUN@: a fresh id per wrk run, so no two runs (warm-up included) post the same image URL and
# every request is a new job, never a duplicate
PUBLISH_LUA = r"""
local run = "@RUN@"
local n = 0
threads = 0
tag = 0          -- a global: setup() sets it in each thread's own Lua state
function setup(thread)
  threads = threads + 1
  thread:set("tag", threads)
end
function request()
  n = n + 1
  local body = string.format(
    '{"media_type":"IMAGE","image_url":"https://cdn.example/bench/%s-%d-%d.jpg",' ..
    '"caption":"bench","wait":0}', run, tag, n)
  return wrk.format("POST", "/ig/publish", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk(url, seconds, conns, threads, script=None):
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "--latency",
           "--timeout", "10s"]
    if script:
        run_script = Path(script).with_name(f"run-{time.monotonic_ns()}.lua")
        run_script.write_text(Path(script).read_text().replace("@RUN@", run_script.stem))
        cmd += ["-s", str(run_script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "lat": lat, "non2xx": int(m.group(1)) if m else 0,
            "errors": errors.group(1) if errors else None,
            "requests": int(total.group(1)) if total else 0, "raw": out}


def line(name, r):
    lat = r["lat"]
    extra = []
    if r["non2xx"]:
        extra.append(f"{r['non2xx']} non-2xx")
    if r["errors"]:
        extra.append("socket errors: " + r["errors"])
    return (f"   {name:<42} {r['rps']:9.0f} req/s   p50 {lat.get('50', 0):6.2f} ms   "
            f"p99 {lat.get('99', 0):7.2f} ms" + (f"   ({', '.join(extra)})" if extra else ""))


def verdict(ok):
    return "MET" if ok else "NOT MET"


def without_module(conf_text):
    """The same configuration with mod_igraph taken out (module, directives, its handler)."""
    keep = []
    for ln in conf_text.splitlines():
        s = ln.strip()
        if s.startswith("LoadModule igraph_module") or s.startswith("IGraph") or \
                s == "SetHandler igraph":
            continue
        keep.append(re.sub(r"\s+igraph:\w+", "", ln) if s.startswith("LogLevel") else ln)
    return "\n".join(keep) + "\n"


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=4, help="wrk duration per case (4)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of all four cases, interleaved (3); ratios are per round")
    ap.add_argument("--connections", type=int, default=20, help="keep-alive connections (20)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--mpm", default="event")
    ap.add_argument("--keep", action="store_true", help="keep run directories")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    print("mod_igraph request-layer bench -", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPU(s)")
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    print(f"module: {MODULE} (tree at {rev or '?'})")
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"wrk: {args.threads} threads, {args.connections} keep-alive connections, "
          f"{args.seconds} s per case after a 1 s warm-up; {args.rounds} rounds, each running "
          "the four cases back to back,\nso that a ratio compares figures taken seconds apart "
          "(this machine's speed drifts by tens of % within a minute)\n")

    fake = FakeMeta().start()
    made = []
    script = Path(tempfile.mkdtemp(prefix="igraph-bench-")) / "publish.lua"
    script.write_text(PUBLISH_LUA)
    try:
        fake.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow",
                                "container": {"finish_after_seconds": 100000,
                                              "finish_after_polls": 0}})
        quiet = "LogLevel warn\nCustomLog /dev/null short"
        h = Httpd(meta=fake, mpm=args.mpm, extra=quiet)
        bare = Httpd(meta=fake, mpm=args.mpm, extra=quiet)
        made += [h, bare]
        bare.conf_path.write_text(without_module(bare.conf_path.read_text()))
        h.start()
        bare.start()
        s = h.session()
        flows.connect(h, s, "instagram")
        assert len(flows.accounts(h, s)) == 1

        def run(target, path, script_path=None):
            wrk(target.url(path), 1, args.connections, args.threads, script_path)  # warm-up
            return wrk(target.url(path), args.seconds, args.connections, args.threads,
                       script_path)

        rounds = []
        for i in range(args.rounds):
            rounds.append({"static": run(h, "/static.txt"),
                           "accounts": run(h, "/ig/api/accounts"),
                           "publish": run(h, "/ig/publish", str(script)),
                           "bare": run(bare, "/static.txt")})
        jobs = h.sql("SELECT COUNT(*) FROM jobs")[0][0]

        print(f"1-3. one httpd ({args.mpm} MPM), SQLite via mod_dbd, IGraphRequireUser Off")
        for i, r in enumerate(rounds, 1):
            print(f"   round {i}")
            print(line("GET /static.txt (25 bytes)", r["static"]))
            print(line("GET /ig/api/accounts (one account)", r["accounts"]))
            print(line("POST /ig/publish wait=0 (202, a job row)", r["publish"]))
            print(line("GET /static.txt, mod_igraph not loaded", r["bare"]))
            print(f"      ratios: accounts {r['accounts']['rps'] / r['static']['rps']:.2f}, "
                  f"publish {r['publish']['rps'] / r['static']['rps']:.2f}, "
                  f"static with/without the module "
                  f"{r['static']['rps'] / r['bare']['rps']:.2f}")
        ra = median([r["accounts"]["rps"] / r["static"]["rps"] for r in rounds])
        rp = median([r["publish"]["rps"] / r["static"]["rps"] for r in rounds])
        p99 = max(r["publish"]["lat"].get("99", 0) for r in rounds)
        cost = median([1 - r["static"]["rps"] / r["bare"]["rps"] for r in rounds])
        print(f"\n   median ratio accounts / static   {ra:5.2f}   target >= 0.80: "
              f"{verdict(ra >= 0.80)}")
        print(f"   median ratio publish / static    {rp:5.2f}   target >= 0.25: "
              f"{verdict(rp >= 0.25)}")
        print(f"   publish accept p99 (worst round) {p99:5.1f} ms   target < 50 ms: "
              f"{verdict(p99 < 50)}")
        print(f"   jobs table after the run: {jobs} rows "
              f"({sum(r['publish']['requests'] for r in rounds)} publish requests answered, "
              "warm-ups not counted)")
        print(f"\n4. what loading the module costs other requests: median {cost * 100:+.1f} % "
              "of the module-less figure (within noise when the rounds disagree in sign)")
    finally:
        for x in made:
            try:
                x.stop()
            except Exception:
                pass
            if not args.keep:
                x.cleanup()
        fake.stop()
        shutil.rmtree(script.parent, ignore_errors=True)
    print("\nload average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
