"""The ``/stats`` page: plots of the run records drawn on the server (matplotlib,
inline SVG) and a table of the slowest runs; the page loads nothing else."""

from __future__ import annotations

import datetime
import html
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SLOWEST = 15
_COLOURS = {"succeeded": "tab:green", "failed": "tab:red", "canceled": "tab:gray"}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; }
figure { margin: 0; } svg { width: 100%; height: auto; }
table { border-collapse: collapse; }
td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
"""


def render(runs: Sequence[Mapping[str, Any]]) -> str:
    """The whole page for ``runs`` (oldest first), as HTML."""
    if not runs:
        body = "<p>No runs yet.</p>"
    else:
        plots = [
            _runs_per_hour(runs),
            _success_rate(runs),
            _queue_wait(runs),
            _seconds_per_megapixel(runs),
        ]
        figures = "".join(f"<figure>{plot}</figure>" for plot in plots)
        body = f'<div class="plots">{figures}</div><h2>Slowest runs</h2>{_slowest(runs)}'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>restore serve: statistics</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>restore serve: {len(runs)} runs</h1>{body}</body></html>"
    )


def _when(run: Mapping[str, Any]) -> datetime.datetime:
    """When a run ended, in UTC (naive, as the plots' time axes take it)."""
    return datetime.datetime.fromtimestamp(run["time"], datetime.UTC).replace(tzinfo=None)


def _times(moments: Sequence[datetime.datetime]) -> np.ndarray:
    return np.array(moments, dtype="datetime64[s]")


def _hour(run: Mapping[str, Any]) -> datetime.datetime:
    return _when(run).replace(minute=0, second=0, microsecond=0)


def _figure(title: str) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.2), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    axes.grid(alpha=0.3)
    return figure, axes


def _svg(figure: Figure, axes: Axes) -> str:
    """The figure as an inline ``<svg>`` element (text kept as text)."""
    import matplotlib

    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg") :]


def _runs_per_hour(runs: Sequence[Mapping[str, Any]]) -> str:
    figure, axes = _figure("Runs per hour")
    counts: dict[str, dict[datetime.datetime, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        counts[run["status"]][_hour(run)] += 1
    hours = sorted({hour for per in counts.values() for hour in per})
    bottom = [0] * len(hours)
    for status in sorted(counts):
        heights = [counts[status].get(hour, 0) for hour in hours]
        colour = _COLOURS.get(status)
        axes.bar(_times(hours), heights, 1 / 26, bottom, label=status, align="edge", color=colour)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.legend(fontsize=8)
    axes.set_ylabel("runs")
    return _svg(figure, axes)


def _success_rate(runs: Sequence[Mapping[str, Any]]) -> str:
    figure, axes = _figure("Success rate per hour")
    total: dict[datetime.datetime, int] = defaultdict(int)
    good: dict[datetime.datetime, int] = defaultdict(int)
    for run in runs:
        total[_hour(run)] += 1
        good[_hour(run)] += run["status"] == "succeeded"
    hours = sorted(total)
    axes.plot(_times(hours), [100 * good[h] / total[h] for h in hours], marker="o")
    axes.set_ylim(0, 105)
    axes.set_ylabel("% succeeded")
    return _svg(figure, axes)


def _queue_wait(runs: Sequence[Mapping[str, Any]]) -> str:
    figure, axes = _figure("Queue wait")
    waited = [
        (_when(run), run["queue_seconds"]) for run in runs if run["queue_seconds"] is not None
    ]
    axes.scatter(_times([w[0] for w in waited]), [w[1] for w in waited], s=10)
    axes.set_ylabel("seconds in the queue")
    return _svg(figure, axes)


def _seconds_per_megapixel(runs: Sequence[Mapping[str, Any]]) -> str:
    figure, axes = _figure("Seconds per megapixel, by stage")
    series: dict[str, list[tuple[datetime.datetime, float]]] = defaultdict(list)
    for run in runs:
        if not run["megapixels"]:
            continue
        for node, seconds in run["stage_seconds"].items():
            stage = run["versions"].get(node, {}).get("stage", node)
            series[f"{run['pipeline']}: {node} ({stage})"].append(
                (_when(run), seconds / run["megapixels"])
            )
    for label, points in sorted(series.items()):
        axes.plot(_times([p[0] for p in points]), [p[1] for p in points], marker=".", label=label)
    if series:
        axes.legend(fontsize=7)
    axes.set_ylabel("s / MP")
    return _svg(figure, axes)


def _slowest(runs: Sequence[Mapping[str, Any]]) -> str:
    timed = [run for run in runs if run["total_seconds"] is not None]
    slowest = sorted(timed, key=lambda run: run["total_seconds"], reverse=True)[:SLOWEST]
    head = "".join(
        f"<th>{name}</th>"
        for name in ("time (UTC)", "pipeline", "megapixels", "seconds", "queue s", "status")
    )
    rows = []
    for run in slowest:
        wait = run["queue_seconds"]
        cells = [
            html.escape(_when(run).strftime("%Y-%m-%d %H:%M:%S")),
            html.escape(run["pipeline"]),
            f"{run['megapixels']:.2f}",
            f"{run['total_seconds']:.2f}",
            f"{wait:.2f}" if wait is not None else "",
            html.escape(run["status"] + (f": {run['error']}" if run["error"] else "")),
        ]
        rows.append("<tr>" + "".join(_cell(i, c) for i, c in enumerate(cells)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _cell(index: int, content: str) -> str:
    return f'<td class="n">{content}</td>' if index in (2, 3, 4) else f"<td>{content}</td>"
