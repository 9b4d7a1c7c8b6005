"""``ssft report RUNS --out REPORT``: an HTML page and a Markdown file over a folder of runs.

<out>/report.md      mean ± std tables (method × labels per class) per dataset, backbone, frozen
<out>/index.html     the same tables and every figure, one self-contained page (images beside it)
<out>/figures/       error_vs_labels_*.png (test error against labelled samples, ± std shaded),
                     curves_*.png (every logged term against the step, one line per seed),
                     confusion_*.png (on request: one per run, from its saved weights)
"""

from __future__ import annotations

import html
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ssft.errors import SsftError
from ssft.report.failures import failed_runs, failures_markdown
from ssft.report.summary import RunRow, collect_runs, markdown_table, setting_tables
from ssft.report.tables import sort_key


def _slug(*parts: Any) -> str:
    text = "_".join(str(p) for p in parts)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:120]


def run_confusion(run_dir: Path, datasets: dict[str, Any] | None = None) -> tuple[np.ndarray, list[str]]:
    """Confusion matrix (true × predicted counts) of a run on its own test part, recomputed from
    its saved weights and split. ``datasets`` (data config -> loaded dataset) is reused across calls."""
    from ssft.api import load_run
    from ssft.data import load_dataset
    from ssft.data.splits import Split

    run = load_run(run_dir, device="cpu")
    key = repr(run.cfg.data)
    datasets = {} if datasets is None else datasets
    if key not in datasets:
        datasets[key] = load_dataset(run.cfg.data)
    dataset = datasets[key]
    split = Split.load(Path(run_dir) / "split.json")
    part = dataset.train if split.test_source == "train" else dataset.test
    if part is None:
        raise SsftError(f"{run_dir}: its dataset has no test part any more")
    pred = run.predict([part.inputs[int(i)] for i in split.test], batch_size=run.cfg.cache.batch_size)
    k = len(run.classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (part.labels[split.test], pred.labels), 1)
    return matrix, run.classes


def write_report(root: str | Path, out: str | Path, *, figures: bool = True, confusion: bool = False) -> Path:
    """Write the report of every run below ``root`` into ``out``; returns the HTML page's path."""
    root, out = Path(root), Path(out)
    rows = collect_runs(root)
    failed = failed_runs(root)
    if not rows and not failed:
        raise SsftError(f"no results.json below {root}: nothing to report")
    if figures or confusion:
        from ssft.report.plots import require_matplotlib

        require_matplotlib()
    out.mkdir(parents=True, exist_ok=True)
    tables = setting_tables(rows)
    md = [
        f"# ssft report: {root}",
        "",
        f"{len(rows)} runs{f', {len(failed)} failed' if failed else ''}. "
        "Test accuracy % (mean ± std over seeds, (runs)).",
        "",
    ]
    page = [
        f"<h1>ssft report: {html.escape(str(root))}</h1>",
        f"<p>{len(rows)} runs{f', {len(failed)} failed' if failed else ''}.</p>",
    ]
    for t in tables:
        md += [f"## {t.title}", "", markdown_table(t), ""]
        page.append(f"<h2>{html.escape(t.title)}</h2>")
        page.append(_html_table(t))
        if figures:
            from ssft.report.plots import error_vs_labels

            png = error_vs_labels(t, out / "figures" / f"error_vs_labels_{_slug(*t.setting)}.png")
            md += [f"![test error against labelled samples]({png.relative_to(out)})", ""]
            page.append(_img(png.relative_to(out), "test error against labelled samples"))
    if figures:
        md_c, page_c = _curves(rows, out)
        md += md_c
        page += page_c
    if confusion:
        md_c, page_c = _confusions(rows, out, root)
        md += md_c
        page += page_c
    md += failures_markdown(failed)
    if failed:
        page.append(f"<h2>Failed runs ({len(failed)})</h2><ul>")
        page += [f"<li><code>{html.escape(n)}</code>: {html.escape(m)}</li>" for n, m in failed]
        page.append("</ul>")
    (out / "report.md").write_text("\n".join(md) + "\n")
    index = out / "index.html"
    index.write_text(_page("ssft report", "\n".join(page)))
    return index


def _curves(rows: list[RunRow], out: Path) -> tuple[list[str], list[str]]:
    from ssft.report.plots import training_curves

    groups: dict[tuple[Any, ...], list[RunRow]] = defaultdict(list)
    for r in rows:
        groups[(*r.setting(), str(r.results.get("method")), r.labels_per_class)].append(r)
    md: list[str] = []
    page: list[str] = []
    for key in sorted(groups, key=lambda k: tuple(sort_key(x) for x in k)):
        dataset, backbone, frozen, method, k = key
        title = f"{method}, {k} labels/class — {dataset}, {backbone}{'' if frozen else ' (trainable)'}"
        png = training_curves(groups[key], out / "figures" / f"curves_{_slug(*key)}.png", title)
        if png is None:
            continue
        md += [f"![{title}]({png.relative_to(out)})", ""]
        page.append(_img(png.relative_to(out), title))
    if not md:  # classical methods log no curves: no empty heading
        return [], []
    return ["## Training curves", "", *md], ["<h2>Training curves</h2>", *page]


def _confusions(rows: list[RunRow], out: Path, root: Path) -> tuple[list[str], list[str]]:
    from ssft.report.plots import confusion_matrix_figure

    md, page = ["## Confusion matrices", ""], ["<h2>Confusion matrices</h2>"]
    datasets: dict[str, Any] = {}  # runs of one sweep share their data: load it once
    for i, r in enumerate(rows, 1):
        name = str(r.dir.relative_to(root)) if r.dir != root else r.dir.name
        print(f"confusion matrix {i}/{len(rows)}: {name}", file=sys.stderr, flush=True)
        matrix, classes = run_confusion(r.dir, datasets)
        acc = np.trace(matrix) / max(1, matrix.sum())
        title = f"{name}: {r.results.get('method')}, accuracy {100 * acc:.1f} %"
        png = confusion_matrix_figure(
            matrix, classes, out / "figures" / f"confusion_{_slug(name)}.png", title
        )
        md += [f"![{title}]({png.relative_to(out)})", ""]
        page.append(_img(png.relative_to(out), title))
    return md, page


def _html_table(t: Any) -> str:
    head = "".join(f"<th>{html.escape(str(k))} labels/class</th>" for k in t.ks)
    body = []
    for m in t.methods:
        cells = "".join(
            f"<td>{html.escape(t.cells[(m, k)].text()) if (m, k) in t.cells else '–'}</td>" for k in t.ks
        )
        body.append(f"<tr><th>{html.escape(m)}</th>{cells}</tr>")
    return f"<table><thead><tr><th>method</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(rel: Path, alt: str) -> str:
    return f'<figure><img src="{html.escape(str(rel))}" alt="{html.escape(alt)}"></figure>'


def _page(title: str, body: str) -> str:
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;"
        "text-align:right}th:first-child{text-align:left}thead th{background:#f3f3f3}"
        "img{max-width:100%}figure{margin:1em 0}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n{body}\n"
        "<p><small>Test accuracy in %: mean ± sample std over seeds, number of runs in brackets. Labels "
        "per class include validation labels.</small></p></body></html>\n"
    )
