"""The board's pictures as SVG text: the zone map and the sparkline of an alert's context. Pure.

Everything a person or device named (zone names, units) is escaped here; the
rest is numbers this module formats. Colours come from the page's stylesheet
through classes (``g-red``, ``g-none``), so the dark and light themes both apply
and the Content-Security-Policy needs no inline style.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from hub.core.topology import Topology

__all__ = ["map_layout", "sparkline_svg", "zone_map_svg"]

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 120.0, 34.0, 24.0, 46.0, 12.0


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def sparkline_svg(values: Sequence[float], label: str = "", width: int = 160,
                  height: int = 28) -> str:
    """A small line of ``values`` (an alert's context), lowest at the bottom, the last
    point marked; empty values give an empty picture.

    >>> sparkline_svg([1, 2, 3], width=10, height=4)  # doctest: +ELLIPSIS
    '<svg ... viewBox="0 0 10 4" ...><title></title><polyline class="spark-line" points="1,3 5,2 9,1"/>...'
    """
    finite = [float(v) for v in values if math.isfinite(float(v))]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} '
            f'{height}" width="{width}" height="{height}" role="img">'
            f"<title>{escape(label)}</title>")
    if not finite:
        return head + "</svg>"
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    pad = 1.0
    step = (width - 2 * pad) / max(1, len(finite) - 1)
    points = [(pad + i * step, height - pad - (v - low) / span * (height - 2 * pad))
              for i, v in enumerate(finite)]
    text = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    last_x, last_y = points[-1]
    return (head + f'<polyline class="spark-line" points="{text}"/>'
            f'<circle class="spark-last" cx="{_f(last_x)}" cy="{_f(last_y)}" r="1.8"/></svg>')


def _depths(names: Sequence[str], topology: Topology) -> dict[str, int]:
    return {n: len([a for a in topology.ancestors(n) if a in names]) - 1 for n in names}


def map_layout(topology: Topology, extra: Iterable[str] = ()
               ) -> dict[str, tuple[float, float]]:
    """Top-left corner of each zone's box: zones with a configured position where it says
    (scaled into a band at the top), the others as a tree, parents above their children
    and children in their parent's order. ``extra``: zones incidents name that the
    topology does not (on their own, at the bottom level).

    >>> from hub.core.topology import Zone
    >>> t = Topology.build([Zone("north"), Zone("m1", parent="north"), Zone("m2", parent="north")], {})
    >>> sorted(map_layout(t).items())
    [('m1', (12.0, 92.0)), ('m2', (156.0, 92.0)), ('north', (12.0, 12.0))]
    """
    names = list(dict.fromkeys([*topology.zones, *(parent for z in topology.zones.values()
                                                   if (parent := z.parent) is not None),
                                *extra]))
    placed: dict[str, tuple[float, float]] = {}
    fixed = {n: z.position for n in names if (z := topology.zones.get(n)) is not None
             and z.position is not None}
    top = MARGIN
    if fixed:
        xs = [p[0] for p in fixed.values()]
        ys = [p[1] for p in fixed.values()]
        span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
        # a scale that keeps boxes from overlapping when positions are a grid of 1s
        scale = max((NODE_W + GAP_X) / span_x if len(set(xs)) > 1 else 1.0,
                    (NODE_H + GAP_Y) / span_y if len(set(ys)) > 1 else 1.0)
        scale = min(scale, 900.0 / span_x if span_x > 1 else scale)
        for name, (x, y) in fixed.items():
            placed[name] = (MARGIN + (x - min(xs)) * scale, MARGIN + (y - min(ys)) * scale)
        top = max(y for _, y in placed.values()) + NODE_H + GAP_Y
    rest = [n for n in names if n not in placed]
    depths = _depths(rest, topology)
    levels: dict[int, list[str]] = {}
    order: dict[str, int] = {}
    for depth in sorted(set(depths.values())):
        level = [n for n in rest if depths[n] == depth]
        level.sort(key=lambda n: (order.get(topology.parent(n) or "", -1), n))
        for index, name in enumerate(level):
            order[name] = index
        levels[depth] = level
    for depth, level in levels.items():
        for index, name in enumerate(level):
            placed[name] = (MARGIN + index * (NODE_W + GAP_X), top + depth * (NODE_H + GAP_Y))
    return placed


def zone_map_svg(topology: Topology, worst: Mapping[str, str], extra: Iterable[str] = ()
                 ) -> str:
    """The zone map: one box per zone with class ``g-<grade>`` of its worst open incident
    (``g-none`` without one) and ``data-zone`` for the page's click filter; lines from
    parents to children, dashed between neighbours, arrows downstream."""
    boxes = map_layout(topology, [*extra, *worst])
    if not boxes:
        return ('<svg xmlns="http://www.w3.org/2000/svg" class="zone-map" viewBox="0 0 300 40">'
                '<text x="10" y="24" class="map-empty">no zones configured ([zones.*] in '
                'hub.toml)</text></svg>')
    width = max(x for x, _ in boxes.values()) + NODE_W + MARGIN
    height = max(y for _, y in boxes.values()) + NODE_H + MARGIN

    def centre(name: str) -> tuple[float, float]:
        x, y = boxes[name]
        return x + NODE_W / 2, y + NODE_H / 2

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="zone-map" viewBox="0 0 '
             f'{_f(width)} {_f(height)}" role="img" aria-label="zone map">',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
             'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="map-arrow"/>'
             '</marker></defs>']
    drawn: set[tuple[str, str]] = set()
    for name, zone in topology.zones.items():
        if zone.parent in boxes and name in boxes:
            (x1, y1), (x2, y2) = centre(zone.parent), centre(name)
            parts.append(f'<line class="map-parent" x1="{_f(x1)}" y1="{_f(y1 + NODE_H / 2)}" '
                         f'x2="{_f(x2)}" y2="{_f(y2 - NODE_H / 2)}"/>')
        for other in zone.neighbours:
            key = (min(name, other), max(name, other))
            if other in boxes and name in boxes and key not in drawn:
                drawn.add(key)
                (x1, y1), (x2, y2) = centre(name), centre(other)
                parts.append(f'<line class="map-neighbour" x1="{_f(x1)}" y1="{_f(y1)}" '
                             f'x2="{_f(x2)}" y2="{_f(y2)}"/>')
        for down in zone.downstream:
            if down in boxes and name in boxes:
                (x1, y1), (x2, y2) = centre(name), centre(down)
                parts.append(f'<line class="map-downstream" marker-end="url(#arrow)" '
                             f'x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}"/>')
    for name, (x, y) in boxes.items():
        grade = worst.get(name, "none")
        label = escape(name if len(name) <= 16 else name[:15] + "…")
        parts.append(f'<g class="zone g-{escape(grade)}" data-zone="{escape(name)}" '
                     f'tabindex="0" role="button"><title>{escape(name)}</title>'
                     f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(NODE_W)}" height="{_f(NODE_H)}" '
                     f'rx="6"/><text x="{_f(x + NODE_W / 2)}" y="{_f(y + NODE_H / 2 + 4)}">'
                     f"{label}</text></g>")
    parts.append("</svg>")
    return "".join(parts)
