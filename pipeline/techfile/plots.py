"""Small inline SVG line charts of recorded series (no plotting library, no external asset)."""

from __future__ import annotations

import csv
import math
from html import escape
from pathlib import Path

from pipeline.core.errors import UserError

W, H, PAD = 520, 200, 36
COLOURS = ("#2b5797", "#c0392b", "#27ae60")


def read_curve(path: Path, columns: tuple[str, ...]) -> dict[str, list[float]]:
    """Columns of a recorded CSV as floats (empty cells become NaN).

    Args:
        path: the CSV (e.g. ``metrics/train_curve.csv``).
        columns: the columns the chart needs; a missing one is a ``UserError``.
    """
    if not Path(path).is_file():
        raise UserError(f"missing input: {path} (training curve) not found")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise UserError(f"missing metric: {path} has no rows")
    for column in columns:
        if column not in rows[0]:
            raise UserError(f"missing metric: {path} has no column {column}")
    return {c: [float(r[c]) if r[c] not in ("", None) else math.nan for r in rows] for c in columns}


def line_chart(x: list[float], series: dict[str, list[float]], title: str) -> str:
    """An SVG chart of one or more series over ``x``, each scaled to its own min..max.

    Args:
        x: the x values (e.g. epochs).
        series: name -> values (NaN points are skipped).
        title: the chart title.
    """
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f'<text x="{W // 2}" y="14" text-anchor="middle" font-size="11">{escape(title)}</text>',
             f'<rect x="{PAD}" y="{PAD - 14}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" '
             'fill="none" stroke="#999"/>']
    x_lo, x_hi = min(x), max(x)
    for index, (name, values) in enumerate(series.items()):
        points = [(a, b) for a, b in zip(x, values) if not math.isnan(b)]
        if not points:
            continue
        lo, hi = min(b for _, b in points), max(b for _, b in points)
        colour = COLOURS[index % len(COLOURS)]
        coords = " ".join(f"{_sx(a, x_lo, x_hi):.1f},{_sy(b, lo, hi):.1f}" for a, b in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.append(f'<text x="{PAD + 4}" y="{H - 8 - 12 * index}" font-size="9" fill="{colour}">'
                     f'{escape(name)}: {lo:.4g} .. {hi:.4g}</text>')
    parts.append(f'<text x="{W - PAD}" y="{H - 8}" text-anchor="end" font-size="9">'
                 f'epoch {x_lo:g} .. {x_hi:g}</text></svg>')
    return "".join(parts)


def _sx(value: float, lo: float, hi: float) -> float:
    return PAD + (value - lo) / ((hi - lo) or 1.0) * (W - 2 * PAD)


def _sy(value: float, lo: float, hi: float) -> float:
    return (H - PAD - 14) - (value - lo) / ((hi - lo) or 1.0) * (H - 2 * PAD - 10)
