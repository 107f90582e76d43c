#!/usr/bin/python3
"""Summarize a scripts/bench result directory.

Reads the NAME-I.json files vset-bench wrote (I = repetition), takes the
median of each metric over repetitions, and the median of the per-repetition
vsetd/direct ratios (each ratio taken within one round, so drift of the
shared machine between rounds cancels out).  Writes:
  summary.json  every median and ratio
  summary.md    the tables of docs/benchmarks.md, with each target's verdict
  latency.dat, qps.dat, insert.dat   gnuplot inputs for bench/plot.gp

Usage: summarize.py DIR
"""
import glob
import json
import os
import re
import statistics
import sys


def load(d):
    runs = {}
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        name = os.path.basename(path)[:-5]
        if name == "summary":
            continue
        m = re.match(r"(.*)-(\d+)$", name)
        base, rep = (m.group(1), int(m.group(2))) if m else (name, 0)
        with open(path) as f:
            text = f.read().strip()
        if not text:
            continue
        obj = json.loads(text)
        if obj.get("mode") == "compare":
            # One --compare run holds both halves of a pair.
            for mode in ("vsetd", "direct"):
                runs.setdefault(base.replace("-cmp", "-" + mode), {})[rep] = \
                    obj[mode]
            runs.setdefault(base.replace("-cmp", "-ratio"), {})[rep] = \
                obj["ratio"]
        else:
            runs.setdefault(base, {})[rep] = obj
    return runs


def get(run, path):
    v = run
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def med(runs, base, path):
    vals = [get(r, path) for r in runs.get(base, {}).values()]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def ratio(runs, a, b, path):
    """Median over repetitions of a[i]/b[i]."""
    ra, rb = runs.get(a, {}), runs.get(b, {})
    vals = []
    for i in sorted(set(ra) & set(rb)):
        x, y = get(ra[i], path), get(rb[i], path)
        if x is not None and y:
            vals.append(x / y)
    return statistics.median(vals) if vals else None


def fmt(v, nd=3):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def fmt_n(v):
    """A count (a median of counts may be a .5)."""
    if v is None:
        return "n/a"
    return f"{v:g}"


def verdict(v, op, limit):
    if v is None:
        return "not measured"
    ok = v <= limit if op == "<=" else v >= limit
    return f"{'met' if ok else 'NOT met'} ({fmt(v, 3)} {op} {limit})"


def cpu_share(runs, base):
    """vsetd CPU per request / shards' CPU per request, median."""
    vals = []
    for r in runs.get(base, {}).values():
        v, s = get(r, "cpu.vsetd_us_per_req"), get(r, "cpu.shards_us_per_req")
        if v is not None and s:
            vals.append(v / s)
    return statistics.median(vals) if vals else None


def main():
    d = sys.argv[1]
    runs = load(d)
    S = {}
    md = []
    reps = max((len(v) for v in runs.values()), default=0)
    md.append(f"Medians over {reps} repetition(s).  Each vsetd/direct ratio "
              "is taken within one `--compare` run (same agents, back to "
              "back), then the median over repetitions.\n")

    # ---- search latency, 1 caller
    md.append("### Search latency, 1 closed-loop caller, K 10, default EF\n")
    md.append("| deployment | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
              "| QPS |")
    md.append("|---|---|---|---|---|---|---|")
    lat_rows = []
    for d_, label in (("two", "2 shards"), ("one", "1 shard")):
        for mode in ("vsetd", "direct"):
            b = f"search-{d_}-{mode}-c1"
            row = {k: med(runs, b, k) for k in
                   ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "qps")}
            S[b] = row
            lat_rows.append((f"{mode} {label}", row))
            md.append(f"| {mode}, {label} | {fmt(row['p50_ms'])} | "
                      f"{fmt(row['p90_ms'])} | {fmt(row['p99_ms'])} | "
                      f"{fmt(row['p999_ms'])} | {fmt(row['max_ms'])} | "
                      f"{fmt(row['qps'], 0)} |")
    r50 = ratio(runs, "search-two-vsetd-c1", "search-two-direct-c1", "p50_ms")
    r99 = ratio(runs, "search-two-vsetd-c1", "search-two-direct-c1", "p99_ms")
    S["ratio_p50"], S["ratio_p99"] = r50, r99
    md.append("")
    md.append(f"- p50 vsetd/direct (2 shards): {verdict(r50, '<=', 1.25)}")
    md.append(f"- p99 vsetd/direct (2 shards): {verdict(r99, '<=', 1.3)}")
    md.append("")

    # ---- throughput, 16 callers
    md.append("### Search throughput, 16 closed-loop callers (2 agents x 8)\n")
    md.append("| deployment | QPS | p50 ms | p99 ms | errors | partial |")
    md.append("|---|---|---|---|---|---|")
    qps_rows = []
    for d_, label in (("two", "2 shards"), ("one", "1 shard")):
        for mode in ("vsetd", "direct"):
            b = f"search-{d_}-{mode}-c16"
            row = {k: med(runs, b, k) for k in
                   ("qps", "p50_ms", "p99_ms", "errors", "partial")}
            S[b] = row
            qps_rows.append((f"{mode} {label}",
                             S[f"search-{d_}-{mode}-c1"]["qps"], row["qps"]))
            md.append(f"| {mode}, {label} | {fmt(row['qps'], 0)} | "
                      f"{fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} | "
                      f"{fmt_n(row['errors'])} | {fmt_n(row['partial'])} |")
    rq = ratio(runs, "search-two-vsetd-c16", "search-two-direct-c16", "qps")
    S["ratio_qps16"] = rq
    md.append("")
    md.append(f"- QPS vsetd/direct at 16 callers (2 shards): "
              f"{verdict(rq, '>=', 0.9)}")
    md.append("")

    # ---- batch insert
    md.append("### Batch insert (20,000 rows into a new collection, batches "
              "of 100, 2 callers)\n")
    md.append("| deployment | vsetd items/s | direct pipelined VADD items/s "
              "| vsetd/direct |")
    md.append("|---|---|---|---|")
    ins_rows = []
    for d_, label in (("two", "2 shards"), ("one", "1 shard")):
        v = med(runs, f"insert-{d_}-vsetd", "load.items_per_s")
        x = med(runs, f"insert-{d_}-direct", "load.items_per_s")
        r = ratio(runs, f"insert-{d_}-vsetd", f"insert-{d_}-direct",
                  "load.items_per_s")
        S[f"insert-{d_}"] = {"vsetd": v, "direct": x, "ratio": r}
        ins_rows.append((label, v, x))
        md.append(f"| {label} | {fmt(v, 0)} | {fmt(x, 0)} | {fmt(r)} |")
    ri = S["insert-two"]["ratio"]
    v2, v1 = S["insert-two"]["vsetd"], S["insert-one"]["vsetd"]
    x2, x1 = S["insert-two"]["direct"], S["insert-one"]["direct"]
    s21 = v2 / v1 if v2 and v1 else None
    sx21 = x2 / x1 if x2 and x1 else None
    S["insert_two_over_one"] = s21
    md.append("")
    md.append(f"- insert vsetd/direct (2 shards): {verdict(ri, '>=', 0.9)}")
    md.append(f"- 2 shards / 1 shard through vsetd: {verdict(s21, '>=', 1.6)}"
              f" (direct: {fmt(sx21)})")
    full = {}
    for d_ in ("two", "one"):
        v = med(runs, f"load-{d_}-vsetd", "load.items_per_s")
        n = med(runs, f"load-{d_}-vsetd", "load.items")
        full[d_] = v
        if v is not None:
            md.append(f"- full load of the search collection through vsetd, "
                      f"{'2 shards' if d_ == 'two' else '1 shard'}: "
                      f"{fmt_n(n)} rows at {fmt(v, 0)} items/s")
    if full["two"] and full["one"]:
        S["load_two_over_one"] = full["two"] / full["one"]
        md.append(f"- full loads, 2 shards / 1 shard: "
                  f"{verdict(S['load_two_over_one'], '>=', 1.6)}")
    md.append("")

    # ---- CPU
    md.append("### CPU per search (user+sys from /proc/PID/stat)\n")
    md.append("| run | vsetd us/search | shards us/search | agents us/search "
              "| vsetd / shards |")
    md.append("|---|---|---|---|---|")
    for b in ("search-two-vsetd-c1", "search-two-vsetd-c16",
              "search-one-vsetd-c1", "search-one-vsetd-c16"):
        v = med(runs, b, "cpu.vsetd_us_per_req")
        s = med(runs, b, "cpu.shards_us_per_req")
        a = med(runs, b, "agents_cpu_us_per_req")
        c = cpu_share(runs, b)
        S[f"cpu-{b}"] = {"vsetd": v, "shards": s, "agents": a, "share": c}
        md.append(f"| {b} | {fmt(v, 1)} | {fmt(s, 1)} | {fmt(a, 1)} | "
                  f"{fmt(c)} |")
    for b in ("search-two-direct-c1", "search-two-direct-c16"):
        s = med(runs, b, "cpu.shards_us_per_req")
        a = med(runs, b, "agents_cpu_us_per_req")
        md.append(f"| {b} | - | {fmt(s, 1)} | {fmt(a, 1)} | - |")
    share = S["cpu-search-two-vsetd-c16"]["share"]
    md.append("")
    md.append(f"- vsetd CPU / shards CPU per search (2 shards, 16 callers): "
              f"{verdict(share, '<=', 0.05)}")
    md.append("")

    # ---- recall
    rec = {b: med(runs, b, "recall") for b in
           ("recall-two-vsetd", "recall-two-direct", "recall-one-vsetd",
            "recall-one-direct")}
    S.update({b: {"recall": v} for b, v in rec.items()})
    rv, r1 = rec["recall-two-vsetd"], rec["recall-one-direct"]
    md.append("### Recall@10 against exact cosine top-10 (each of the "
              "1,000 test queries once)\n")
    md.append("| deployment | vsetd | direct |")
    md.append("|---|---|---|")
    for d_, label in (("two", "2 shards"), ("one", "1 shard (one Redis "
                                              "holding every row)")):
        md.append(f"| {label} | {fmt(rec[f'recall-{d_}-vsetd'], 4)} | "
                  f"{fmt(rec[f'recall-{d_}-direct'], 4)} |")
    md.append("")
    S["recall_margin"] = rv - r1 if rv is not None and r1 is not None \
        else None
    md.append(f"- vsetd (2 shards) >= one Redis: "
              f"{verdict(S['recall_margin'], '>=', 0)} (difference)")
    md.append("")

    # ---- the floor: the RPC hop with no shard work
    if "floor-two" in runs:
        md.append("### The RPC hop alone (vset-bench floor, 1 caller, "
                  "no shard work)\n")
        md.append("| path | p50 ms | p99 ms | server CPU us/request |")
        md.append("|---|---|---|---|")
        for path, label in (("echo", "nng REQ/REP echo (3,300 bytes)"),
                            ("vsetd", "vsetd, search refused after decoding")):
            row = {k: med(runs, "floor-two", f"{path}.{k}") for k in
                   ("p50_ms", "p99_ms", "server_cpu_us_per_req")}
            S[f"floor-{path}"] = row
            md.append(f"| {label} | {fmt(row['p50_ms'])} | "
                      f"{fmt(row['p99_ms'])} | "
                      f"{fmt(row['server_cpu_us_per_req'], 1)} |")
        sh = S.get("cpu-search-two-vsetd-c1", {}).get("shards")
        e = S["floor-echo"]["server_cpu_us_per_req"]
        if sh and e:
            md.append("")
            md.append(f"- nng's own CPU per request is {100.0 * e / sh:.1f}% "
                      f"of the shards' CPU per search (1 caller)")
        md.append("")

    # ---- open loop
    if "open-two-vsetd-r300" in runs:
        md.append("### Open loop, 300 searches/s scheduled (2 shards)\n")
        md.append("| mode | achieved QPS | p50 ms | p99 ms | p99.9 ms | "
                  "max ms | late sends |")
        md.append("|---|---|---|---|---|---|---|")
        for mode in ("vsetd", "direct"):
            b = f"open-two-{mode}-r300"
            row = {k: med(runs, b, k) for k in
                   ("qps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "late")}
            S[b] = row
            md.append(f"| {mode} | {fmt(row['qps'], 0)} | "
                      f"{fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} | "
                      f"{fmt(row['p999_ms'])} | {fmt(row['max_ms'])} | "
                      f"{fmt_n(row['late'])} |")
        md.append("")

    # ---- long run
    if "long-two-vsetd" in runs:
        r = runs["long-two-vsetd"][0]
        md.append("### Steady state: 1,000,000 searches through vsetd\n")
        b, a = get(r, "cpu.vsetd_rss_kb_before"), get(r, "cpu.vsetd_rss_kb_after")
        md.append(f"- {r['requests']} requests at {r['qps']:.0f} QPS, "
                  f"errors {r['errors']}; vsetd RSS {b} KiB before, {a} KiB "
                  f"after")
        samples = []
        p = os.path.join(d, "long-rss.txt")
        if os.path.exists(p):
            with open(p) as f:
                samples = [int(l.split()[1]) for l in f if l.strip()]
        if samples:
            lo, hi = min(samples), max(samples)
            md.append(f"- RSS samples every 10 s: min {lo} KiB, max {hi} "
                      f"KiB, spread {100.0 * (hi - lo) / lo:.1f}%")
        md.append("")

    # ---- how busy the shared machine was
    p = os.path.join(d, "loadavg.txt")
    if os.path.exists(p):
        with open(p) as f:
            la = [float(l.split()[1]) for l in f if len(l.split()) >= 2]
        if la:
            S["loadavg1_median"] = statistics.median(la)
            S["loadavg1_max"] = max(la)
            md.append(f"Machine load (1-minute load average at the start of "
                      f"each run, 2 cores): median {statistics.median(la):.2f},"
                      f" max {max(la):.2f}.\n")

    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(S, f, indent=1, sort_keys=True)
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    def q(s):
        return '"' + s + '"'

    with open(os.path.join(d, "latency.dat"), "w") as f:
        f.write("# config p50 p90 p99 p99.9 (ms, 1 caller)\n")
        for label, row in lat_rows:
            f.write(f"{q(label)} " + " ".join(
                fmt(row[k] or 0, 4) for k in
                ("p50_ms", "p90_ms", "p99_ms", "p999_ms")) + "\n")
    with open(os.path.join(d, "qps.dat"), "w") as f:
        f.write("# config qps_1_caller qps_16_callers\n")
        for label, a, b in qps_rows:
            f.write(f"{q(label)} {fmt(a or 0, 1)} {fmt(b or 0, 1)}\n")
    with open(os.path.join(d, "insert.dat"), "w") as f:
        f.write("# deployment vsetd_items_per_s direct_items_per_s\n")
        for label, v, x in ins_rows:
            f.write(f"{q(label)} {fmt(v or 0, 1)} {fmt(x or 0, 1)}\n")


if __name__ == "__main__":
    main()
