"""Turn one run's figures into a Markdown report and PNG plots beside its results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# workload -> least share of bare Starlette's GET req/s it should reach
RATIO_TARGETS = {"get": 0.30, "page": 0.10, "post": 0.12, "patch": 0.12}
# GET over trivial Connexion's GET: twice the 64 % of the 2026-11-26 run at a million tickets,
# the figure to reach where Connexion's own floor keeps GET under the share of bare above.
TRIVIAL_STRETCH = 1.28
# At the largest store: workload -> p99 ceiling in ms; and the RSS ceiling.
P99_TARGETS_MS = {"get": 5.0, "page": 25.0}
RSS_TARGET_MB = 200.0


def _apps(figures: list[dict[str, Any]]) -> list[str]:
    """The app's targets: one worker first, then each count of several."""
    names = {f["target"] for f in figures if f["target"].startswith("troubleticket")}
    return sorted(names, key=lambda name: (name != "troubleticket", name))


def _index(figures: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    return {(f["target"], f["workload"], f["size"]): f for f in figures}


def write(run: dict[str, Any], out: Path) -> None:
    figures = run["figures"]
    by = _index(figures)
    sizes = sorted({f["size"] for f in figures})
    workloads = [
        w
        for w in ("get", "page", "count", "patch", "post")
        if any(f["workload"] == w and f["target"] == "troubleticket" for f in figures)
    ]
    lines = [
        f"# Benchmark run {run['when']}",
        "",
        f"{run['machine']['cpus']} CPUs, Python {run['machine']['python']}; one server worker; "
        f"wrk with {run['settings']['wrk_threads']} threads and "
        f"{run['settings']['connections']} connections for {run['settings']['seconds']} s "
        "per figure, after a 2 s warm-up; all on 127.0.0.1 in the same run. "
        "Baselines: **bare** Starlette returning the stored ticket JSON, **trivial** Connexion "
        "handlers on the same contract. Ratios are req/s over the baseline's GET req/s at the "
        "same store size.",
        "",
    ]
    if run.get("load_seconds"):
        loaded = ", ".join(
            f"{int(size):,} in {secs:.0f} s" for size, secs in run["load_seconds"].items()
        )
        lines += [f"Bulk load (tickets in seconds): {loaded}.", ""]
    lines += [
        "| store | target | workload | req/s | p50 ms | p99 ms | RSS MB | vs bare | vs trivial |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        bare = by.get(("bare", "get", size))
        trivial = by.get(("trivial", "get", size))
        rows = [by[key] for key in (("bare", "get", size), ("trivial", "get", size)) if key in by]
        rows += [
            by[(target, w, size)]
            for target in _apps(figures)
            for w in workloads
            if (target, w, size) in by
        ]
        for f in rows:
            vs_bare = f["requests_per_s"] / bare["requests_per_s"] if bare else float("nan")
            vs_trivial = (
                f["requests_per_s"] / trivial["requests_per_s"] if trivial else float("nan")
            )
            lines.append(
                f"| {size:,} | {f['target']} | {f['workload']} | {f['requests_per_s']:,.0f} | "
                f"{f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['rss_mb']:.0f} | "
                f"{vs_bare:.0%} | {vs_trivial:.0%} |"
            )
    largest = sizes[-1]
    lines += ["", "## Targets", "", "| target | figure | met |", "|---|---:|---|"]
    bare = by.get(("bare", "get", largest))
    for workload, share in RATIO_TARGETS.items():
        f = by.get(("troubleticket", workload, largest))
        if f and bare:
            ratio = f["requests_per_s"] / bare["requests_per_s"]
            lines.append(
                f"| {workload} ≥ {share:.0%} of bare GET at {largest:,} | "
                f"{ratio:.1%} | {'yes' if ratio >= share else 'no'} |"
            )
    trivial = by.get(("trivial", "get", largest))
    get = by.get(("troubleticket", "get", largest))
    if get and trivial:
        ratio = get["requests_per_s"] / trivial["requests_per_s"]
        lines.append(
            f"| get ≥ {TRIVIAL_STRETCH:.0%} of trivial Connexion GET at {largest:,} (stretch) | "
            f"{ratio:.0%} | {'yes' if ratio >= TRIVIAL_STRETCH else 'no'} |"
        )
    for workload, ceiling in P99_TARGETS_MS.items():
        f = by.get(("troubleticket", workload, largest))
        if f:
            lines.append(
                f"| {workload} p99 < {ceiling:g} ms at {largest:,} | {f['p99_ms']:.2f} ms | "
                f"{'yes' if f['p99_ms'] < ceiling else 'no'} |"
            )
    for several in _apps(figures)[1:]:
        for workload in workloads:
            one, many = (by.get((t, workload, largest)) for t in ("troubleticket", several))
            if one and many:
                lines.append(
                    f"| {workload} with {several.split()[-1]} workers over one at {largest:,} "
                    f"(2 cores) | {many['requests_per_s'] / one['requests_per_s']:.2f}× | — |"
                )
    rss = max(
        (f["rss_mb"] for f in figures if f["target"] == "troubleticket" and f["size"] == largest),
        default=None,
    )
    if rss is not None:
        lines.append(
            f"| RSS < {RSS_TARGET_MB:g} MB at {largest:,} | {rss:.0f} MB | "
            f"{'yes' if rss < RSS_TARGET_MB else 'no'} |"
        )
    targets = lines[lines.index("## Targets") :]
    lines += ["", "![latency](latency.png)", "", "![throughput](throughput.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(targets))
    _plots(by, sizes, workloads, out)


def _plots(
    by: dict[tuple[str, str, int], dict[str, Any]],
    sizes: list[int],
    workloads: list[str],
    out: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for workload in workloads:
        points = [
            by[("troubleticket", workload, s)]
            for s in sizes
            if ("troubleticket", workload, s) in by
        ]
        xs = [p["size"] for p in points]
        line = ax.plot(xs, [p["p50_ms"] for p in points], marker="o", label=f"{workload} p50")
        ax.plot(
            xs,
            [p["p99_ms"] for p in points],
            marker="x",
            linestyle="--",
            color=line[0].get_color(),
            label=f"{workload} p99",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tickets in store")
    ax.set_ylabel("latency (ms)")
    ax.set_title("troubleticket latency by store size (SQLite)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    for target, workload in [
        ("bare", "get"),
        ("trivial", "get"),
        *[("troubleticket", w) for w in workloads],
    ]:
        points = [by[(target, workload, s)] for s in sizes if (target, workload, s) in by]
        if points:
            ax.plot(
                [p["size"] for p in points],
                [p["requests_per_s"] for p in points],
                marker="o",
                label=f"{target} {workload}",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tickets in store")
    ax.set_ylabel("requests per second")
    ax.set_title("throughput by store size, beside the baselines")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    # python -m bench.report bench/results/<run>: rebuild a run's report and plots.
    run_dir = Path(sys.argv[1])
    write(json.loads((run_dir / "results.json").read_text()), run_dir)
