#!/usr/bin/python3
"""vset-bench smoke test: survey-coordinated runs against a real deployment.

Starts 2 Redis 8 shards and vsetd on loopback ephemeral ports, then:
  1. `vset-bench run --agents 2 --load --recall --json` through vsetd, with
     two separately started `vset-bench agent` processes;
  2. the same plan with --direct against the same shards.
Checks what a user of the numbers relies on: requests were answered without
errors, the merged histogram holds exactly the requests the agents
reported, and recall is a fraction, high on this easy synthetic set.

Every wait is bounded and every process is killed on the way out, pass or
fail.  Environment (set by meson): REDIS_SERVER, VSETD_BIN, VSET_BENCH_BIN.
"""
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time

DATASET = "synthetic:2000:32:7"
PROCS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    PROCS.append(p)
    return p


def stop_all():
    for p in reversed(PROCS):
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 5
    for p in reversed(PROCS):
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_redis(port, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"redis on port {port} did not come up")


def line_reader(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def wait_line(q, needle, deadline, log):
    """Return the first stderr line containing needle (bounded)."""
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            break
        log.append(line)
        if needle in line:
            return line
    raise SystemExit(f"no '{needle}' line; got:\n{''.join(log)}")


def bench_run(bench, extra, tmp, label):
    """One coordinator + two agents; returns the parsed JSON summary."""
    argv = [bench, "run", "--agents", "2", "--listen", "tcp://127.0.0.1:0",
            "--agent-wait", "30", "--dataset", DATASET, "--duration", "2",
            "--recall", "--cache-dir", tmp, "--json", "--quiet",
            "--max-time", "30"] + extra
    coord = start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    q = queue.Queue()
    threading.Thread(target=line_reader, args=(coord.stderr, q),
                     daemon=True).start()
    log = []
    line = wait_line(q, "listening on", time.monotonic() + 60, log)
    url = line.split("listening on", 1)[1].strip()
    agents = [start([bench, "agent", "--coordinator", url, "--once",
                     "--quiet", "--idle-timeout", "60"])
              for _ in range(2)]
    try:
        out, _ = coord.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{label}: coordinator did not finish")
    for a in agents:
        try:
            a.wait(10)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"{label}: an agent did not exit after BYE")
        if a.returncode != 0:
            raise SystemExit(f"{label}: agent exited {a.returncode}")
    while True:
        try:
            item = q.get(timeout=1)
        except queue.Empty:
            break
        if item is None:
            break
        log.append(item)
    if coord.returncode != 0:
        raise SystemExit(f"{label}: exit {coord.returncode}\n"
                         f"{''.join(log)}\n{out}")
    return json.loads(out)


def check(summary, label, want_load):
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    expect(summary["agents"] == 2, "2 agents answered")
    expect(len(summary["per_agent"]) == 2, "per-agent results for both")
    expect(summary["qps"] > 0, "qps > 0")
    expect(summary["errors"] == 0, f"no errors (got {summary['errors']}: "
           f"{summary['errors_by_code']})")
    reported = sum(a["requests"] for a in summary["per_agent"])
    expect(reported > 0, "the agents sent requests")
    expect(summary["hist_count"] == reported,
           f"histogram count {summary['hist_count']} == requests the "
           f"agents reported {reported}")
    expect(summary["requests"] == reported, "requests == sum of agents")
    expect(all(a["hist_count"] == a["requests"]
               for a in summary["per_agent"]),
           "each agent's histogram holds its requests")
    expect(summary["p50_ms"] <= summary["p99_ms"] <= summary["max_ms"],
           "percentiles ordered")
    r = summary.get("recall")
    expect(r is not None and 0.0 <= r <= 1.0, f"recall in [0,1] ({r})")
    expect(r is not None and r >= 0.8, f"recall high on an easy set ({r})")
    expect(summary["partial"] == 0, "no partial replies with both shards up")
    if want_load:
        expect(summary["load"]["items"] == 2000 and
               summary["load"]["failed"] == 0, "all 2000 rows loaded")
    for f in failures:
        print(f"not ok: {label}: {f}")
    if not failures:
        print(f"ok: {label}: {summary['requests']} requests, "
              f"{summary['qps']:.0f} req/s, p50 {summary['p50_ms']:.3f} ms, "
              f"recall {summary['recall']:.3f}")
    return not failures


def check_vsetd_cost(summary):
    """--vsetd-pid: vsetd's CPU and context switches (all threads) during
    the run, per request; scripts/bench-hop reads these.  Every search
    wakes vsetd at least once, so switches are above zero.  CPU comes in
    10 ms clock ticks, so a short run may well read zero: it must only be
    there and not negative."""
    cpu = summary.get("cpu", {})
    failures = []
    us = cpu.get("vsetd_us_per_req")
    if not (isinstance(us, (int, float)) and us >= 0):
        failures.append(f"no vsetd CPU per request: {cpu}")
    sw = cpu.get("vsetd_switches")
    if not (isinstance(sw, int) and sw > 0):
        failures.append(f"no vsetd context switches: {cpu}")
    elif abs(cpu.get("vsetd_switches_per_req", 0) * summary["requests"]
             - sw) > 1:
        failures.append(f"switches per request does not match: {cpu}")
    for f in failures:
        print(f"not ok: vsetd cost: {f}")
    if not failures:
        print(f"ok: vsetd cost: {cpu['vsetd_us_per_req']:.1f} us and "
              f"{cpu['vsetd_switches_per_req']:.1f} switches per request")
    return not failures


def check_floor(bench, url, vsetd_pid):
    """`vset-bench floor`: the nng echo and vsetd's refusal path both
    answer every request, and both report the server's CPU per request."""
    n = 300
    r = subprocess.run([bench, "floor", "--server", url, "--vsetd-pid",
                        str(vsetd_pid), "--requests", str(n), "--json"],
                       capture_output=True, text=True, timeout=120)
    failures = []
    if r.returncode != 0:
        failures.append(f"exit {r.returncode}: {r.stderr.strip()}")
    else:
        d = json.loads(r.stdout)
        for path in ("echo", "vsetd"):
            m = d.get(path, {})
            if m.get("requests") != n or m.get("errors") != 0:
                failures.append(f"{path}: {m}")
            if not (0 < m.get("p50_ms", 0) <= m.get("p99_ms", 0)):
                failures.append(f"{path}: percentiles {m}")
            # CPU comes in 10 ms clock ticks: a few hundred cheap calls
            # may well read zero; the figure must be there, not negative
            if m.get("server_cpu_us_per_req", -1) < 0:
                failures.append(f"{path}: no server CPU figure: {m}")
    # A bad flag is a usage error, not a run.
    u = subprocess.run([bench, "floor", "--requests", "0"],
                       capture_output=True, text=True, timeout=30)
    if u.returncode != 2 or "--requests" not in u.stderr:
        failures.append(f"--requests 0: exit {u.returncode}: {u.stderr}")
    for f in failures:
        print(f"not ok: floor: {f}")
    if not failures:
        print(f"ok: floor: {n} echoes and {n} refused searches")
    return not failures


def main():
    redis = os.environ["REDIS_SERVER"]
    vsetd = os.environ["VSETD_BIN"]
    bench = os.environ["VSET_BENCH_BIN"]
    ok = True
    with tempfile.TemporaryDirectory(prefix="vb-smoke-") as tmp:
        try:
            ports = [free_port(), free_port()]
            for p in ports:
                start([redis, "--port", str(p), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for p in ports:
                wait_redis(p, time.monotonic() + 20)
            shards = []
            for p in ports:
                shards += ["--shard", f"127.0.0.1:{p}"]
            vd = start([vsetd, "--listen", "tcp://127.0.0.1:0"] + shards,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
            q = queue.Queue()
            threading.Thread(target=line_reader, args=(vd.stderr, q),
                             daemon=True).start()
            line = wait_line(q, "listening on", time.monotonic() + 20, [])
            url = line.split("listening on", 1)[1].split(",")[0].strip()

            s = bench_run(bench, ["--server", url, "--load", "--vsetd-pid",
                                  str(vd.pid)], tmp, "vsetd")
            ok &= check(s, "vsetd", True)
            ok &= check_vsetd_cost(s)
            # Same shards, same collection, no vsetd in the path.
            s = bench_run(bench, ["--direct"] + shards, tmp, "direct")
            ok &= check(s, "direct", False)
            ok &= check_floor(bench, url, vd.pid)
        finally:
            stop_all()
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
