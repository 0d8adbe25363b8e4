"""docs/performance.md and its charts, from bench/results/*.json.

The part between the HAND markers is written by people (the method and how to read the
figures) and kept as it is; everything after it is generated: the machine and the command,
the targets (met or not), one table and one chart per scenario."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.catalogue import SCENARIOS, Scenario, Target
from bench.processes import ROOT

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
CHARTS = "performance"  # next to the document
HAND_START = "<!-- hand-written: `python -m bench report` keeps this part -->"
HAND_END = "<!-- end of the hand-written part; the rest is generated -->"
DEFAULT_HAND = "# Performance\n\n(The method goes here.)\n"
COLOURS = {"http": "tab:blue", "domain": "tab:blue", "raw": "tab:orange"}


def load(results: Path = RESULTS) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(results.glob("*.json")):
        document = json.loads(path.read_text())
        scenario = SCENARIOS.get(document.get("scenario", ""))
        if scenario is not None and scenario.kind != "scale":  # those are written by hand
            found[scenario.name] = document
    return found


def _hand_part(doc: Path) -> str:
    if doc.exists():
        text = doc.read_text()
        if HAND_START in text and HAND_END in text:
            return text[text.index(HAND_START) + len(HAND_START) : text.index(HAND_END)].strip()
    return DEFAULT_HAND.strip()


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _app_ms(run: dict[str, Any]) -> float | None:
    per: dict[str, float | None] = run["cpu_ms_per_op"]
    if run["impl"] == "http":
        server = per.get("server")
        return None if server is None else server + (per.get("worker") or 0)
    return per.get("loadgen")


def _runs(document: dict[str, Any], variant: str = "") -> list[dict[str, Any]]:
    return [r for r in document["runs"] if (r.get("variant") or "") == variant]


# ---------------------------------------------------------------- targets


def versus_runs(
    document: dict[str, Any], name: str, documents: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The runs of scenario `name` to compare `document`'s with: those of the same invocation
    when it ran both (kept in the document), else `name`'s own results."""
    kept = document.get("versus", {}).get(name)
    if kept is not None:
        return list(kept)
    return list(documents[name]["runs"]) if name in documents else []


def versus(run: dict[str, Any], others: list[dict[str, Any]], variant: str = "") -> float | None:
    """`run`'s throughput over that of the same impl at the same concurrency in `others` (a
    target's `versus` scenario's runs)."""
    same = [
        r
        for r in others
        if (r.get("variant") or "") == variant
        if (r["impl"], r["concurrency"]) == (run["impl"], run["concurrency"])
    ]
    if not same or not same[0]["throughput"]:
        return None
    return round(run["throughput"] / same[0]["throughput"], 3)


def judge(
    target: Target,
    document: dict[str, Any],
    documents: dict[str, dict[str, Any]] | None = None,
) -> tuple[str, str]:
    """(what was measured, "met" / "not met" / "not measured") for one target; `documents`
    hold the scenario a `versus` target compares with."""
    scenario = SCENARIOS[document["scenario"]]
    others = versus_runs(document, target.versus, documents or {}) if target.versus else []
    verdicts, texts = [], []
    for variant in scenario.variants:
        runs = [r for r in _runs(document, variant) if r["impl"] == target.impl]
        if target.concurrency is not None:
            runs = [r for r in runs if r["concurrency"] == target.concurrency]
        if not runs:
            continue
        run = max(runs, key=lambda r: r["throughput"])
        ok = True
        parts = []
        if target.min_rate is not None:
            ok &= run["throughput"] >= target.min_rate
            parts.append(f"{run['throughput']:,.0f} {scenario.unit}/s")
        if target.max_p99_ms is not None:
            p99 = run["latency"]["p99_ms"]
            ok &= p99 is not None and p99 < target.max_p99_ms
            parts.append(f"p99 {_num(p99, 0)} ms")
        if target.min_ratio is not None:
            ratio = versus(run, others, variant) if target.versus else run.get("ratio")
            ok &= ratio is not None and ratio >= target.min_ratio
            parts.append(f"{_num((ratio or 0) * 100, 0)} % of {target.versus or 'raw'}")
        if run["errors"]:
            ok = False
            parts.append(f"{run['errors']} errors")
        where = f"{variant}, " if variant else ""
        clients = f"{run['concurrency']} client" + ("s" if run["concurrency"] > 1 else "")
        texts.append(f"{where}{clients}: " + ", ".join(parts))
        verdicts.append(ok)
    if not verdicts:
        return "-", "not measured"
    return "; ".join(texts), "met" if all(verdicts) else "**not met**"


# ---------------------------------------------------------------- tables


def _table(scenario: Scenario, runs: list[dict[str, Any]]) -> list[str]:
    unit = scenario.unit
    http = scenario.kind == "http"
    head = [
        "clients", "impl", f"{unit}/s", "p50 ms", "p95 ms", "p99 ms", "errors",
        "vs raw", "app CPU ms/op", *(["load gen ms/op"] if http else []), "PostgreSQL ms/op",
        "others' CPU",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|---:|---|" + "---:|" * (len(head) - 2)]
    for run in sorted(runs, key=lambda r: (r["concurrency"], r["impl"] == "raw")):
        latency = run["latency"]
        errors = str(run["errors"]) + (
            f" (+{run['warmup_errors']})" if run["warmup_errors"] else ""
        )
        cells = [
            str(run["concurrency"]),
            run["impl"],
            _num(run["throughput"]),
            _num(latency["p50_ms"]),
            _num(latency["p95_ms"]),
            _num(latency["p99_ms"]),
            f"**{errors}**" if run["errors"] or run["warmup_errors"] else errors,
            _num(run.get("ratio"), 2),
            _num(_app_ms(run), 2),
            *([_num(run["cpu_ms_per_op"].get("loadgen"), 2)] if http else []),
            _num(run["cpu_ms_per_op"].get("postgres"), 2),
            _num(run["cpu"].get("other"), 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _steps(scenario: Scenario, runs: list[dict[str, Any]]) -> list[str]:
    """Per-step latency and statements, at the highest concurrency, for multi-step runs."""
    top = max(r["concurrency"] for r in runs)
    chosen = {r["impl"]: r for r in runs if r["concurrency"] == top}
    kinds: list[str] = []  # in the order of the flow (the check counted them in that order)
    for run in chosen.values():
        for kind in [*run["statements"], *run["steps"]]:
            if kind not in kinds and kind != "op":
                kinds.append(kind)
    impls = [i for i in scenario.impls if i in chosen]
    if len(kinds) < 2:
        counts = [
            f"{impl} {_num(chosen[impl]['statements'].get(kinds[0] if kinds else 'op'), 0)}"
            for impl in impls
            if chosen[impl]["statements"]
        ]
        return [f"SQL statements per operation: {', '.join(counts)}.", ""] if counts else []
    head = ["step"] + [f"{i} p50 / p99 ms" for i in impls] + [f"{i} statements" for i in impls]
    lines = [
        f"Steps at {top} clients (statements: SQL sent per request, BEGIN/COMMIT not counted; "
        "the server's counted in process through the same application):",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for kind in kinds or ["op"]:
        cells = [kind]
        for impl in impls:
            step = chosen[impl]["steps"].get(kind) or chosen[impl]["latency"]
            cells.append(f"{_num(step['p50_ms'])} / {_num(step['p99_ms'])}")
        for impl in impls:
            count = chosen[impl]["statements"].get(kind)
            cells.append(_num(count, 0) if count is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _errors(runs: list[dict[str, Any]]) -> list[str]:
    failing = [r for r in runs if r["errors"] or r["warmup_errors"]]
    lines = []
    for run in failing:
        samples = "; ".join(s.replace("|", "/") for s in run["error_samples"][:2])
        lines.append(
            f"- **errors** ({run['impl']}, {run['concurrency']} clients, "
            f"{run['errors']} in the window, {run['warmup_errors']} in the warm-up): {samples}"
        )
    return [*lines, ""] if lines else []


# ---------------------------------------------------------------- charts


def chart(scenario: Scenario, document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    styles, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
    for v, variant in enumerate(scenario.variants):
        runs = _runs(document, variant)
        for impl in scenario.impls:
            points = sorted((r["concurrency"], r) for r in runs if r["impl"] == impl)
            if not points:
                continue
            xs = [c for c, _ in points]
            label = f"{variant} {impl}".strip()
            style = {"color": COLOURS[impl], "linestyle": styles[v % 4], "marker": markers[v % 4]}
            left.plot(xs, [r["throughput"] for _, r in points], label=label, **style)
            p99 = [r["latency"]["p99_ms"] or float("nan") for _, r in points]
            right.plot(xs, p99, label=label, **style)
    for axis, title in ((left, f"throughput ({scenario.unit}/s)"), (right, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("concurrent clients")
        axis.set_title(title, fontsize=10)
        axis.grid(True, alpha=0.3)
        levels = sorted({r["concurrency"] for r in document["runs"]})
        axis.set_xticks(levels, [str(x) for x in levels])
    right.set_yscale("log")
    right.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    right.yaxis.set_minor_formatter(NullFormatter())
    left.set_ylim(bottom=0)
    left.legend(fontsize=8)
    fig.suptitle(f"{scenario.name}: {scenario.title}", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- the document


def _versus(
    scenario: Scenario,
    document: dict[str, Any],
    documents: dict[str, dict[str, Any]],
    variant: str,
) -> list[str]:
    """For a scenario with a `versus` target: its throughput over the other scenario's, per
    impl and level (the raw line is the baselines' own ratio)."""
    names = sorted({t.versus for t in scenario.targets if t.versus})
    out = []
    for name in names:
        runs, others = _runs(document, variant), versus_runs(document, name, documents)
        same = "the same invocation's" if "versus" in document else "its results'"
        cells = [
            f"{r['impl']} x{r['concurrency']} {_num((ratio or 0) * 100, 0)} %"
            for r in sorted(runs, key=lambda r: (r["concurrency"], r["impl"] == "raw"))
            if (ratio := versus(r, others, variant)) is not None
        ]
        if cells:
            out += [f"Throughput as a share of {name}'s ({same} run): {', '.join(cells)}.", ""]
    return out


def _machine(documents: dict[str, dict[str, Any]]) -> list[str]:
    first = next(iter(documents.values()))
    m = first["machine"]
    lines = [
        "## Machine and command",
        "",
        f"- CPU: {m['cpu_model']}, {m['nproc']} CPUs; {m['memory_gib']} GiB RAM; "
        f"Linux {m['kernel']}",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']} (throwaway server of "
        f"`scripts/with-services.sh`: fsync off), Redis {m['redis']}",
    ]
    runs = sorted(
        {
            (d["command"], d["machine"]["commit"], d["machine"]["started_at"],
             json.dumps(d["settings"], sort_keys=True))
            for d in documents.values()
        }
    )  # fmt: skip
    for command, commit, started, settings in runs:
        names = [
            n
            for n, d in documents.items()
            if (d["command"], d["machine"]["commit"], d["machine"]["started_at"])
            == (command, commit, started)
        ]
        s = json.loads(settings)
        loads = [documents[n]["machine"]["load_average_before"][0] for n in names] + [
            documents[n]["machine"]["load_average_after"][0] for n in names
        ]
        lines.append(
            f"- `{command}` (under `scripts/with-services.sh`), started {started}, commit "
            f"{commit}: {', '.join(names)}; {s['server_workers']} server workers, pools of "
            f"{s['pool_size']} connections, {s['seconds']:g} s measured per run after "
            f"{s['warmup']:g} s of warm-up; 1-minute load average {min(loads):.1f}-"
            f"{max(loads):.1f} at the scenarios' starts and ends"
        )
    return [*lines, ""]


def render(documents: dict[str, dict[str, Any]], hand: str, charts_dir: Path | None) -> str:
    """The generated part of docs/performance.md after `hand`; with `charts_dir`, each
    scenario's chart is drawn there (matplotlib, the bench extra) and linked; None: text
    only (what the test suite reads, without the bench extra installed)."""
    out = [hand, "", HAND_END, "", "<!-- generated by `python -m bench report` -->", ""]
    if not documents:
        return "\n".join([*out, "No results yet: run `make bench`.", ""])
    out += _machine(documents)
    out += ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    for name, scenario in SCENARIOS.items():
        for target in scenario.targets:
            measured, verdict = (
                judge(target, documents[name], documents)
                if name in documents
                else ("-", "not measured")
            )
            out.append(f"| {target.text} | {measured} | {verdict} |")
    out += ["", "## Scenarios", ""]
    for name, scenario in SCENARIOS.items():
        if name not in documents:
            continue
        document = documents[name]
        baseline = "the domain services in process" if scenario.kind == "inproc" else "HTTP"
        out += [f"### {name}: {scenario.title}", "", scenario.about, ""]
        out.append(
            f"{baseline} against raw asyncpg doing the same SQL work in one process; "
            f"`vs raw` is throughput over the raw baseline's; `app CPU ms/op` is the server "
            f"and the arq worker for http, the process doing the work otherwise."
            if scenario.kind == "http"
            else "`vs raw` is the domain's throughput over raw's; `app CPU ms/op` is the "
            "process running the operations."
        )
        out.append("")
        for variant in scenario.variants:
            runs = _runs(document, variant)
            if not runs:
                continue
            if variant:
                out += [f"**{variant}**", ""]
            out += _table(scenario, runs)
            out.append("")
            out += _steps(scenario, runs)
            out += _errors(runs)
            out += _versus(scenario, document, documents, variant)
        books = sorted({r["books"] for r in document["runs"] if r.get("books")})
        if books:
            out += [f"Books after each run: {', '.join(books)}.", ""]
        if charts_dir is not None:
            png = charts_dir / f"{name}.png"
            chart(scenario, document, png)
            out += [f"![{name}: throughput and p99 against clients]({CHARTS}/{png.name})", ""]
    return "\n".join(out)


def write_report(output: str | None = None, results: Path = RESULTS) -> str:
    doc = Path(output) if output else DOC
    hand = _hand_part(doc)
    text = render(load(results), f"{HAND_START}\n{hand}", doc.parent / CHARTS)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text.rstrip() + "\n")
    return f"wrote {doc} and its charts in {doc.parent / CHARTS}"
