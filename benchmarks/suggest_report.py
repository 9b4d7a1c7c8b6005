"""Tables and the figure of benchmarks/suggest.py (accuracy against budget)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _pick(rows: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def tables(
    cold: list[dict[str, Any]],
    nxt: list[dict[str, Any]],
    args: Any,
    cold_names: list[str],
    next_names: list[str],
    default_cold: str,
    default_next: str,
    ms: Callable[[list[float]], str],
) -> str:
    datasets = list(dict.fromkeys(r["dataset"] for r in cold))
    out = [
        "### Cold start: label spreading (shipped defaults) on N = b x K picked items, test accuracy %",
        "",
        f"Mean ± std over seeds {args.seeds}; `classes` = classes among the picks (mean); CPU s = picking "
        "only, mean per pick list. Class-balanced random reads the labels: an oracle a user cannot run.",
        "",
    ]
    for ds in datasets:
        rows = _pick(cold, dataset=ds)
        k = max(r["classes_hit"] for r in rows)
        head = " | ".join(f"b = {b}" for b in args.per_class)
        out += [
            f"**{ds}**",
            "",
            f"| strategy | {head} | classes at b = 1 | CPU s at b = 2 |",
            "|---|" + "---|" * (len(args.per_class) + 2),
        ]
        for s in cold_names:
            cells = [
                ms([r["label_spreading"] for r in _pick(rows, strategy=s, per_class=b)])
                for b in args.per_class
            ]
            hit = np.mean([r["classes_hit"] for r in _pick(rows, strategy=s, per_class=args.per_class[0])])
            cpu = np.mean([r["cpu_s"] for r in _pick(rows, strategy=s, per_class=2)] or [np.nan])
            out.append(f"| {s} | " + " | ".join(cells) + f" | {hit:.1f} | {cpu:.2f} |")
        out += ["", f"(K = {k} classes at most among picks.)", ""]
    fm = [r for r in cold if "fixmatch" in r]
    if fm:
        b = fm[0]["per_class"]
        out += [
            f"### Cold start: the shipped FixMatch (`ssft fit`, `data.labeled_items`) at b = {b}, test accuracy %",
            "",
            "| strategy | " + " | ".join(datasets) + " |",
            "|---|" + "---|" * len(datasets),
        ]
        for s in dict.fromkeys(r["strategy"] for r in fm):
            cells = [
                ms([r["fixmatch"] for r in _pick(fm, strategy=s, dataset=ds)])
                if _pick(fm, dataset=ds)
                else "not run"
                for ds in datasets
            ]
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        out.append("")
    out += [
        "### Next batch: 2 per class from "
        + default_cold
        + " picks, then 2 per class more (total 4 per class)",
        "",
        "Label spreading's probabilities on the pool rank the second batch; accuracy after it, %. "
        "`random (both rounds)` is random picks of the whole 4 per class.",
        "",
        "| strategy | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    base = [
        ms([r["label_spreading"] for r in _pick(cold, dataset=ds, strategy="random", per_class=4)])
        for ds in datasets
    ]
    out.append("| random (both rounds) | " + " | ".join(base) + " |")
    r0 = [ms([r["round0"] for r in _pick(nxt, dataset=ds, strategy=default_next)]) for ds in datasets]
    out.append("| (after round 0 only, 2 per class) | " + " | ".join(r0) + " |")
    for s in next_names:
        cells = [ms([r["label_spreading"] for r in _pick(nxt, dataset=ds, strategy=s)]) for ds in datasets]
        out.append(f"| {default_cold} + {s} | " + " | ".join(cells) + " |")
    out += ["", targets(cold, nxt, datasets, default_cold, default_next)]
    return "\n".join(out)


def targets(
    cold: list[dict[str, Any]], nxt: list[dict[str, Any]], datasets: list[str], dc: str, dn: str
) -> str:
    """Issue 24's targets, stated per dataset from the rows above."""

    def mean(rows: list[dict[str, Any]], key: str = "label_spreading") -> float:
        return 100 * float(np.mean([r[key] for r in rows])) if rows else float("nan")

    lines = [
        "### Targets (issue 24), label spreading",
        "",
        "| dataset | cold b = 2: default - random | default - balanced (oracle) | "
        "next batch: default - random (4 per class) | cold b = 2: default - best anchor | "
        "next batch: default - best anchor |",
        "|---|---|---|---|---|---|",
    ]
    for ds in datasets:
        c = mean(_pick(cold, dataset=ds, strategy=dc, per_class=2))
        r = mean(_pick(cold, dataset=ds, strategy="random", per_class=2))
        bal = mean(_pick(cold, dataset=ds, strategy="balanced random (oracle)", per_class=2))
        n = mean(_pick(nxt, dataset=ds, strategy=dn))
        r4 = mean(_pick(cold, dataset=ds, strategy="random", per_class=4))
        anchors = {x["strategy"] for x in cold + nxt if x["strategy"].startswith("skactiveml")}
        # an anchor without rows in a round (ProbCover has no next-batch rows) is no candidate:
        # a nan inside max() would make the result depend on the set's order
        ac = np.nanmax(
            [mean(_pick(cold, dataset=ds, strategy=a, per_class=2)) for a in anchors if "margin" not in a]
        )
        an = np.nanmax([mean(_pick(nxt, dataset=ds, strategy=a)) for a in anchors])
        lines.append(
            f"| {ds} | {c - r:+.1f} (target >= +5) | {c - bal:+.1f} (target >= 0) | {n - r4:+.1f} (target >= +3) "
            f"| {c - ac:+.1f} (target >= 0) | {n - an:+.1f} (target >= 0) |"
        )
    return "\n".join(lines)


def figure(cold: list[dict[str, Any]], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in cold))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4 * len(datasets), 3.4), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        budgets = sorted({r["per_class"] for r in cold})
        for s in names:
            ys = [
                100
                * np.mean([r["label_spreading"] for r in _pick(cold, dataset=ds, strategy=s, per_class=b)])
                for b in budgets
            ]
            ax.plot(budgets, ys, marker="o", label=s, linestyle="--" if "oracle" in s else "-")
        ax.set(
            title=ds,
            xlabel="items per class (average)",
            ylabel="test accuracy % (label spreading)",
            xticks=budgets,
        )
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
