"""Geometry for the studio's SVG: line charts (a service's calls, a run's logged metrics) and a pipeline's steps as
a graph. Pure functions; the templates draw what they return (templates/_charts.html)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str = "series-1"


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    path: str  # an SVG path: a segment per run of values that are not None
    points: list[tuple[float, float]]  # where single values (with no neighbour) are drawn as dots


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    """A line chart, and the data it shows for a table beside it (screen readers, exact values)."""

    title: str
    unit: str
    width: int
    height: int
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    x_labels: list[str]
    series: list[Series]
    empty: bool

    @property
    def rows(self) -> list[tuple[str, list[float | None]]]:
        """(label, each series' value) of the points where a series has a value."""
        found = []
        for index, label in enumerate(self.x_labels):
            values = [s.values[index] for s in self.series]
            if any(value is not None for value in values):
                found.append((label, values))
        return found


def _nice_top(value: float) -> float:
    """A round number at or above `value` for the top of the axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value)


def format_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}"
    return f"{value:.3g}"


def line_chart(title: str, unit: str, x_labels: Sequence[str], series: Sequence[Series], ticks: int = 4) -> Chart:
    """A chart of `series` over the points `x_labels` names (the same count of values in each series)."""
    count = len(x_labels)
    values = [v for s in series for v in s.values if v is not None]
    top = _nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    lines = []
    for item in series:
        segments: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(item.values):
            if value is None:
                segments.append([])
            else:
                segments[-1].append((round(x(index), 1), round(y(value), 1)))
        path = " ".join("M" + " L".join(f"{px},{py}" for px, py in segment) for segment in segments if len(segment) > 1)
        dots = [segment[0] for segment in segments if len(segment) == 1]
        lines.append(Line(item.name, item.css, path, dots))
    y_ticks = [Tick(round(y(top * i / ticks), 1), format_number(top * i / ticks)) for i in range(ticks + 1)]
    x_positions = sorted({0, count // 2, count - 1}) if count else []
    x_ticks = [Tick(round(x(i), 1), x_labels[i]) for i in x_positions]
    return Chart(title, unit, WIDTH, HEIGHT, lines, y_ticks, x_ticks, list(x_labels), list(series), not values)


# -- a pipeline's steps ---------------------------------------------------------------------------------------------

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 190, 52, 24, 36, 8


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    status: str
    x: float
    y: float
    href: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str


@dataclass(frozen=True)
class Graph:
    width: float
    height: float
    node_w: int
    node_h: int
    nodes: list[Node]
    edges: list[Edge] = field(default_factory=list)


def layers(depends_on: dict[str, list[str]]) -> dict[str, int]:
    """Each step's row: one below the lowest of the steps it depends on (the first steps on row 0)."""
    found: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in found:
            parents = [p for p in depends_on.get(name, []) if p in depends_on and p not in seen]
            found[name] = 1 + max((depth(p, (*seen, name)) for p in parents), default=-1)
        return found[name]

    for name in depends_on:
        depth(name)
    return found


def step_graph(steps: Sequence[tuple[str, str, str, list[str], str]]) -> Graph:
    """The steps (name, type, status, the steps it depends on, its page) top to bottom, a row per layer, each
    row's steps side by side in the pipeline's order, centred."""
    rows = layers({name: list(depends) for name, _, _, depends, _ in steps})
    per_row: dict[int, list[str]] = {}
    for name, *_ in steps:
        per_row.setdefault(rows[name], []).append(name)
    widest = max((len(names) for names in per_row.values()), default=1)
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X
    positions: dict[str, tuple[float, float]] = {}
    for row, names in per_row.items():
        row_width = len(names) * NODE_W + (len(names) - 1) * GAP_X
        start = (width - row_width) / 2
        for index, name in enumerate(names):
            positions[name] = (start + index * (NODE_W + GAP_X), MARGIN + row * (NODE_H + GAP_Y))
    nodes = [Node(name, kind, status, *positions[name], href) for name, kind, status, _, href in steps]
    edges = []
    for name, _, _, depends, _ in steps:
        for parent in depends:
            if parent in positions:
                (px, py), (cx, cy) = positions[parent], positions[name]
                x1, y1, x2, y2 = px + NODE_W / 2, py + NODE_H, cx + NODE_W / 2, cy
                middle = (y1 + y2) / 2
                edges.append(Edge(parent, name, f"M{x1},{y1} C{x1},{middle} {x2},{middle} {x2},{y2 - 4}"))
    height = 2 * MARGIN + (max(rows.values(), default=0) + 1) * (NODE_H + GAP_Y) - GAP_Y
    return Graph(width, height, NODE_W, NODE_H, nodes, edges)
