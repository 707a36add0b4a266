"""The software architecture (IEC 62304 5.3) from ``dvc.yaml``: stages, data flow, inline SVG.

A stage feeds another when one of its outputs is (or contains) one of the other's inputs.
Stages are laid out in layers by their longest path from a source; the drawing is an inline
SVG string, so the document needs no external asset.
"""

from __future__ import annotations

from html import escape

from pipeline.trace.stages import Stage

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 220, 46, 40, 34, 10


def data_flow(stages: dict[str, Stage]) -> list[tuple[str, str, str]]:
    """``(producer, consumer, path)`` for every input a stage reads from another stage's output.

    Args:
        stages: from ``pipeline.trace.stages.load_stages``.
    """
    edges = []
    for consumer in stages.values():
        for dep in consumer.deps:
            for producer in stages.values():
                if producer.name != consumer.name and any(_under(dep, out) for out in producer.outs):
                    edges.append((producer.name, consumer.name, dep))
    return edges


def layers(stages: dict[str, Stage], edges: list[tuple[str, str, str]]) -> dict[str, int]:
    """The layer of each stage: the length of its longest path from a stage with no producer."""
    level = {name: 0 for name in stages}
    for _ in stages:
        changed = False
        for producer, consumer, _path in edges:
            if level[consumer] < level[producer] + 1:
                level[consumer] = level[producer] + 1
                changed = True
        if not changed:
            break
    return level


def svg(stages: dict[str, Stage], edges: list[tuple[str, str, str]]) -> str:
    """The stage graph as an inline SVG element (boxes per layer, arrows per data flow).

    Args:
        stages: the stages, in ``dvc.yaml`` order.
        edges: from ``data_flow``.
    """
    level = layers(stages, edges)
    rows: dict[int, list[str]] = {}
    for name in stages:
        rows.setdefault(level[name], []).append(name)
    width = max(len(r) for r in rows.values()) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN if rows else 0
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN if rows else 0
    pos = {}
    for row, names in rows.items():
        offset = (width - 2 * MARGIN - (len(names) * (BOX_W + GAP_X) - GAP_X)) // 2
        for index, name in enumerate(names):
            pos[name] = (MARGIN + offset + index * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="arch" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="pipeline stage graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>'
             '</defs>']
    for producer, consumer in sorted({(p, c) for p, c, _ in edges}):
        (x1, y1), (x2, y2) = pos[producer], pos[consumer]
        parts.append(f'<line x1="{x1 + BOX_W // 2}" y1="{y1 + BOX_H}" x2="{x2 + BOX_W // 2}" '
                     f'y2="{y2}" stroke="#444" stroke-width="1.5" marker-end="url(#arrow)"/>')
    for name, stage in stages.items():
        x, y = pos[name]
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                     'fill="#eef3fb" stroke="#2b5797"/>')
        parts.append(f'<text x="{x + BOX_W // 2}" y="{y + 19}" text-anchor="middle" '
                     f'font-size="13" font-weight="bold">{escape(name)}</text>')
        parts.append(f'<text x="{x + BOX_W // 2}" y="{y + 36}" text-anchor="middle" '
                     f'font-size="10">{len(stage.requirements)} requirement(s), '
                     f'{len(stage.risks)} risk(s)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")
