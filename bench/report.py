"""The benchmark's results: the machine, the versions, the per-step load figures, and the
files bench/results/<date>-<size>.json and .md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "cpu": model,
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
    except OSError:
        return ""


def versions(cfg: Any) -> dict[str, Any]:
    import django
    import psycopg2

    found: dict[str, Any] = {"python": platform.python_version(), "django": django.get_version()}
    try:
        conn = psycopg2.connect(**cfg.dsn(cfg.ours_db))
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            found["postgresql"] = cursor.fetchone()[0]
        conn.close()
    except psycopg2.Error:
        found["postgresql"] = None
    try:
        import redis

        found["redis"] = redis.Redis.from_url(cfg.redis_url).info("server").get("redis_version")
    except Exception:  # the figures say what failed; the version is only information
        found["redis"] = None
    bin_ = ROOT / ".venv" / "bin"
    found["gunicorn"] = _run([str(bin_ / "gunicorn"), "--version"]).split()[-1].rstrip(")") or None
    found["celery"] = _run([str(bin_ / "celery"), "--version"]).split(" ")[0] or None
    peer_python = ROOT / "bench" / "peer" / ".venv" / "bin" / "python"
    if peer_python.exists():
        found["django_helpdesk"] = _run(
            [str(peer_python), "-c", "import importlib.metadata as m; print(m.version('django-helpdesk'))"]
        )
    load_python = ROOT / "bench" / ".venv-load" / "bin" / "python"
    if load_python.exists():
        found["locust"] = _run([str(load_python), "-c", "import importlib.metadata as m; print(m.version('locust'))"])
    commit = _run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    found["project_commit"] = commit + ("+changes" if dirty else "")
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def load_steps(recorded: dict[str, Any], users: list[int], seconds: int) -> list[dict[str, Any]]:
    """Throughput, errors and latency percentiles of each step of the load run."""
    started = recorded["started"]
    steps = []
    for index, count in enumerate(users):
        low, high = started + index * seconds, started + (index + 1) * seconds
        # The first seconds of a step are its ramp-up: counted, as a real rise is.
        samples = [s for s in recorded["samples"] if low <= s[0] < high]
        times = [s[1] for s in samples]
        by_name: dict[str, int] = {}
        for s in samples:
            by_name[s[3]] = by_name.get(s[3], 0) + 1
        steps.append(
            {
                "users": count,
                "requests": len(samples),
                "requests_per_second": round(len(samples) / seconds, 1),
                "errors": sum(1 for s in samples if not s[2]),
                "p50_ms": round(statistics.median(times), 1) if times else None,
                "p95_ms": round(percentile(times, 0.95), 1) if times else None,
                "p99_ms": round(percentile(times, 0.99), 1) if times else None,
                "by_request": by_name,
            }
        )
    return steps


def one_line(result: dict[str, Any]) -> str:
    if result.get("status") != "measured":
        return f"not measured: {result.get('why')}"
    if "median_ms" in result:
        text = f"median {result['median_ms']} ms (min {result['min_ms']}, max {result['max_ms']})"
        if result.get("queries") is not None:
            text += f", {result['queries']} queries"
        if "ratio_to_floor" in result:
            text += f", {result['ratio_to_floor']}x its floor"
        if "peer_over_ours" in result:
            text += f", peer {result['peer_over_ours']}x slower"
        return text
    if "tickets_per_second" in result:
        return f"{result['tickets_per_second']} tickets/s, {result['errors']} errors"
    return json.dumps({k: v for k, v in result.items() if not isinstance(v, dict | list)})[:300]


def _met(value: Any) -> str:
    return {True: "met", False: "missed", None: "—"}.get(value, "—")


def _ms(block: dict[str, Any] | None) -> str:
    if not block or "median_ms" not in block:
        return "—"
    return f"{block['median_ms']} ms ({block['min_ms']} to {block['max_ms']})"


def _dataset_line(d: dict[str, Any]) -> str:
    if not d.get("tickets"):
        return "Dataset: none loaded."
    seconds = d.get("seconds") or 0
    verdict = "met" if seconds < 600 else "missed"
    return (
        f"Dataset (bench_data, seed {d.get('seed')}, ending {d.get('anchor')}): {d['tickets']:,} tickets, "
        f"{d.get('entries', 0):,} thread entries, {d.get('events', 0):,} events, {d.get('clocks', 0):,} SLA clocks, "
        f"built in {seconds} s (rows {d.get('load_seconds')} s, indexes and keys {d.get('index_seconds')} s, "
        f"vacuum {d.get('vacuum_seconds')} s; load average then {d.get('load_average', '?')}); "
        f"target under 600 s at 1,000,000 tickets: {verdict if d['tickets'] >= 1_000_000 else 'n/a at this size'}."
    )


def markdown(results: dict[str, Any]) -> str:
    m, v = results["machine"], results["versions"]
    lines = [
        f"# Benchmark: {results['size']:,} tickets, {results['date']}",
        "",
        *(
            [f"**Interrupted** ({results['interrupted']}): the figures below are those taken before.", ""]
            if results.get("interrupted")
            else []
        ),
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB; load average at start "
        f"{m['load_average']}, at end {results.get('load_average_after')}. Shared machine: compare the ratios, "
        "measured in the same run, rather than the absolute times.",
        "",
        "Versions: " + ", ".join(f"{k} {v[k]}" for k in v if v[k]),
        "",
        (
            "Profile: full."
            if results.get("settings", {}).get("profile") == "full"
            else "Profile: quick (a small dataset and few repetitions: this proves the harness, it measures nothing)."
        ),
        "",
        _dataset_line(results.get("dataset") or {}),
        "",
        "| figure | target | ours: median (min to max) | queries | floor | ours ÷ floor | django-helpdesk | peer ÷ ours | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.get("figures", {}).items():
        if r.get("status") != "measured":
            lines.append(f"| {name} | {r['target']} | not measured: {r.get('why')} | | | | | | — |")
            continue
        if name == "api_create":
            floor = r.get("floor", {})
            lines.append(
                f"| {name} | {r['target']} | {r['tickets_per_second']} tickets/s, {r['errors']} errors "
                f"({r['clients']} clients, {r['tickets']} tickets) | | {floor.get('tickets_per_second')} tickets/s "
                f"| floor {r.get('floor_over_ours')}x faster | — | — | {_met(r.get('met'))} |"
            )
            continue
        if name == "memory":
            web, cel = r["web_worker"], r["celery_worker"]
            lines.append(
                f"| {name} | {r['target']} | web worker {web.get('rss_after_mb')} MB after {web.get('requests')} "
                f"requests; Celery {cel.get('parent_mb')} MB + children {cel.get('children_mb')} | | | | | | "
                f"{_met(r.get('met'))} |"
            )
            continue
        if name == "sla_sweep":
            due, idle = r.get("sweep_due_seconds") or {}, r.get("sweep_nothing_due_ms") or {}
            floor = r.get("floor_claim_update_seconds") or {}
            lines.append(
                f"| {name} | {r['target']} | due: {due.get('median')} s; nothing due: {idle.get('median')} ms "
                f"({r['open_tickets']:,} open, {r['due_tickets']:,} due) | | claiming UPDATE {floor.get('median')} s "
                f"| {r.get('ratio_to_floor', '—')} | — | — | {_met(r.get('met'))} |"
            )
            continue
        if name == "inbound_email":
            lines.append(
                f"| {name} | {r['target']} | {r.get('messages_per_second')} messages/s | | | | — | — | "
                f"{_met(r.get('met'))} |"
            )
            continue
        peer = r.get("peer")
        if peer is None:
            peer_text = "—"
        elif peer.get("status") == "measured":
            peer_text = _ms(peer)
        else:
            peer_text = f"not measured: {peer.get('why')}"
        if peer and peer.get("status") == "measured":
            peer_text += f", {peer.get('queries')} queries"
        lines.append(
            f"| {name} | {r['target']} | {_ms(r)} | {r.get('queries', '—')} | {_ms(r.get('floor'))} "
            f"| {r.get('ratio_to_floor', '—')} | {peer_text} | {r.get('peer_over_ours', '—')} | {_met(r.get('met'))} |"
        )
    load = results.get("load_run")
    if load:
        lines += ["", "## Load run", ""]
        if load.get("status") == "not measured":
            lines.append(f"Not measured: {load.get('why')}")
        else:
            lines += [
                f"{load['tool']}; mix of simulated users {load['mix']}.",
                "",
                "| users | requests/s | errors | p50 ms | p95 ms | p99 ms |",
                "|---|---|---|---|---|---|",
            ]
            for s in load["steps"]:
                lines.append(
                    f"| {s['users']} | {s['requests_per_second']} | {s['errors']} | {s['p50_ms']} | {s['p95_ms']} "
                    f"| {s['p99_ms']} |"
                )
            web_b, web_a = load["rss_before"]["web"], load["rss_after"]["web"]
            lines += ["", f"Web workers RSS before {web_b['children_mb']} MB, after {web_a['children_mb']} MB."]
            if load["rss_before"].get("celery"):
                cb, ca = load["rss_before"]["celery"], load["rss_after"]["celery"]
                lines.append(
                    f"Celery RSS before {cb['parent_mb']} + {cb['children_mb']} MB, "
                    f"after {ca['parent_mb']} + {ca['children_mb']} MB."
                )
    lines += ["", f"Reproduce: `make bench SIZE={results['size']}` (see bench/README.md).", ""]
    return "\n".join(lines)


def write(results: dict[str, Any], folder: Path, started: datetime) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{started:%Y-%m-%d}-{results['size']}"
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(results))
    return paths
