"""Chart helpers: PNG bytes, legends beside the axes, labels apart, log-axis ticks.

matplotlib is not imported at module level: every function takes the Figure or Axes it
works on (or imports inside), so importing this module stays light; :func:`log_ticks` and
:func:`short_usd` are plain Python, usable by any chart format. Colours come from
:mod:`portfolio.report.palette`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["figure_png", "fit_legend_beside", "label_box", "legend_beside", "log_ticks",
           "place_labels", "short_usd"]

LOG_MANTISSAS = ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
                 tuple(float(m) for m in range(1, 10)))
"""Tick mantissas for a log axis, coarsest first (:func:`log_ticks`)."""

EVEN_STEPS = (10.0, 5.0, 2.5, 2.0, 1.0)
"""Round steps (times a power of ten) for a range narrower than the finest mantissas."""

LABEL_DIRECTIONS = ((1, 1, "left", "bottom"), (1, -1, "left", "top"),
                    (-1, 1, "right", "bottom"), (-1, -1, "right", "top"),
                    (0, 1.5, "center", "bottom"), (0, -1.5, "center", "top"),
                    (1.5, 0, "left", "center"), (-1.5, 0, "right", "center"))
"""Directions tried around a point (x, y multiples of the distance, text alignment)."""

LABEL_DISTANCES = (3.5, 10.0, 18.0)
"""Distances tried, in points; labels beyond the first are tied to their point by a line."""


def figure_png(figure: Any, dpi: float | None = None, *, crop: bool = True) -> bytes:
    """A matplotlib Figure as PNG bytes, cropped to what is drawn.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The chart.
    dpi : float, optional
        Resolution; the figure's own when omitted.
    crop : bool
        Crop to what is drawn (``bbox_inches="tight"``: one more layout pass, about 40 %
        of the time of a chart). False for a figure laid out by :func:`fit_legend_beside`.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi or "figure",
                   bbox_inches="tight" if crop else None, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def fit_legend_beside(figure: Any, legend: Any | None, *, left: float = 1.0,
                      bottom: float = 0.5, top: float = 0.4, gap: float = 0.2) -> None:
    """Margins of a one-axes figure, with room on the right for its :func:`legend_beside`.

    The legend alone is measured (not the whole figure, as ``bbox_inches="tight"`` does),
    so the chart can be saved with ``figure_png(..., crop=False)``.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        A figure with one axes.
    legend : matplotlib.legend.Legend or None
        The legend right of the axes (None: a plain right margin of ``gap``).
    left, bottom, top, gap : float
        Margins in inches: left of the axes (tick labels and the y label), below (date
        ticks), above (the title), and right of the legend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    width, height = figure.get_size_inches()
    beside = 0.0
    if legend is not None:
        renderer = FigureCanvasAgg(figure).get_renderer()
        # rounded: the width is x1 - x0, whose last bits vary with where the axes are
        beside = round(legend.get_window_extent(renderer).width, 6) / figure.dpi + 0.1
    figure.subplots_adjust(left=left / width, right=1.0 - (beside + gap) / width,
                           bottom=bottom / height, top=1.0 - top / height)


def legend_beside(axes: Any, handles: Sequence[Any] | None = None,
                  labels: Sequence[str] | None = None, fontsize: float = 8) -> Any:
    """A legend to the right of the axes, top-aligned, so it hides no curve.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
        The axes whose artists are listed.
    handles, labels : sequence, optional
        The entries in the order listed (default: the artists' labels in drawing order).
    fontsize : float
        Font size in points.

    Returns
    -------
    matplotlib.legend.Legend
    """
    if handles is None:
        handles, labels = axes.get_legend_handles_labels()
    return axes.legend(handles, labels, fontsize=fontsize, loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def log_ticks(low: float, high: float, least: int = 4) -> list[float]:
    """Tick values for a log axis from ``low`` to ``high``: 1-2-5 steps, finer if needed.

    Parameters
    ----------
    low, high : float
        The axis range (``0 < low < high``; anything else gives no ticks).
    least : int
        Fewest ticks wanted inside the range.

    Returns
    -------
    list of float
        The ticks of the first mantissa set of :data:`LOG_MANTISSAS` ((1), (1, 2, 5),
        (1, 1.5, 2, 3, 5, 7), (1, ..., 9) times powers of ten) with at least ``least``
        inside the range; for a narrower range, multiples of the largest round step
        (:data:`EVEN_STEPS`) that gives ``least``.
    """
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        return []
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in LOG_MANTISSAS:
        ticks = [m * 10.0**d for d in decades for m in mantissas if low <= m * 10.0**d <= high]
        if len(ticks) >= least:
            return ticks
    power = 10.0 ** math.floor(math.log10((high - low) / (least + 1)))
    for step in (s * power for s in EVEN_STEPS):
        first, last = math.ceil(low / step), math.floor(high / step)
        if last - first + 1 >= least:
            break
    return [k * step for k in range(first, last + 1)]


def short_usd(value: float) -> str:
    """A tick label in USD: ``950``, ``50k``, ``1.5M``, ``2B``."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.4g}{suffix}"
    return f"{value:.4g}"


def place_labels(axes: Any, points: Sequence[tuple[float, float]], texts: Sequence[str], *,
                 obstacles: Sequence[tuple[float, float]] = (), colour: str = "0.2",
                 fontsize: float = 7) -> list[Any]:
    """Label points so that no two labels overlap (deterministic, greedy).

    Each label, in the order given, takes the first position around its point (right-up,
    right-down, left-up, left-down, above, below, right, left; then the same farther out,
    with a thin line to the point) where its text overlaps no label placed before, no
    marker and no line to another label, its own line crosses no label, and it stays
    inside the axes. When every position collides, the one with the least overlapping
    area is kept (then the one crossing the fewest lines). Call it after everything else
    is drawn and the axis limits are final: positions are checked in display coordinates.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
        Axes with a canvas that can render (e.g. ``FigureCanvasAgg(figure)``).
    points : sequence of (x, y)
        The labelled points, in data coordinates.
    texts : sequence of str
        Label text per point.
    obstacles : sequence of (x, y)
        Other markers (data coordinates) that labels keep clear of.
    colour : str
        Colour of the text and of the lines to far labels.
    fontsize : float
        Font size in points.

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels, in the order of ``points``; :func:`label_box` gives a label's text box.
    """
    from matplotlib.transforms import Bbox

    renderer = axes.figure.canvas.get_renderer()
    radius = 3.0 * axes.figure.dpi / 72.0  # a marker's half-width in pixels
    anchors = axes.transData.transform(points) if len(points) else []
    markers = [Bbox.from_bounds(x - radius, y - radius, 2 * radius, 2 * radius)
               for x, y in axes.transData.transform([*points, *obstacles])]
    taken = _Taken(markers, axes.get_window_extent(renderer))
    labels = []
    for point, anchor, text in zip(points, anchors, texts):
        best, best_cost, best_leader = None, (float("inf"), 0), None
        for distance, (dx, dy, ha, va) in _positions():
            far = distance > LABEL_DISTANCES[0]
            label = axes.annotate(text, point, xytext=(dx * distance, dy * distance),
                                  textcoords="offset points", ha=ha, va=va,
                                  fontsize=fontsize, color=colour,
                                  arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6,
                                              "shrinkA": 0, "shrinkB": 2} if far else None)
            box = label_box(label, renderer)
            leader = (tuple(anchor), (box.x0 + box.width / 2, box.y0 + box.height / 2))
            cost = taken.cost(box, leader if far else None)
            if cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost, best_leader = label, cost, leader if far else None
            else:
                label.remove()
            if best_cost == (0.0, 0):
                break
        taken.add(label_box(best, renderer), best_leader)
        labels.append(best)
    return labels


def label_box(label: Any, renderer: Any) -> Any:
    """The box of an annotation's text in display coordinates (its leader line left out)."""
    from matplotlib.text import Text

    label.get_window_extent(renderer)  # places the text where the annotation puts it
    return Text.get_window_extent(label, renderer)


def _positions() -> list[tuple[float, tuple[float, float, str, str]]]:
    """(distance, direction) pairs in the order tried: every direction, nearest first."""
    return [(distance, direction) for distance in LABEL_DISTANCES
            for direction in LABEL_DIRECTIONS]


class _Taken:
    """What a new label must keep clear of: markers, labels and their leader lines."""

    def __init__(self, markers: list[Any], frame: Any) -> None:
        self.markers, self.frame = markers, frame
        self.boxes: list[Any] = []
        self.leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def add(self, box: Any, leader: tuple[tuple[float, float], tuple[float, float]] | None
            ) -> None:
        self.boxes.append(box)
        if leader is not None:
            self.leaders.append(leader)

    def cost(self, box: Any, leader: tuple[tuple[float, float], tuple[float, float]] | None
             ) -> tuple[float, int]:
        """(Area overlapping labels, markers or outside the axes in pixels², lines crossed).

        Compared in that order: a line through a label reads better than text on text.
        """
        crossings = sum(_crosses(line, box) for line in self.leaders)
        if leader is not None:
            crossings += sum(_crosses(leader, other) for other in self.boxes)
        area = (_overlap(box, self.boxes) + _overlap(box, self.markers)
                + box.width * box.height - _overlap(box, [self.frame]))
        return area, crossings


def _overlap(box: Any, others: Sequence[Any]) -> float:
    """Area of ``box`` that overlaps each of ``others``, summed (pixels²)."""
    total = 0.0
    for other in others:
        width = min(box.x1, other.x1) - max(box.x0, other.x0)
        height = min(box.y1, other.y1) - max(box.y0, other.y0)
        total += max(width, 0.0) * max(height, 0.0)
    return total


def _crosses(segment: tuple[tuple[float, float], tuple[float, float]], box: Any) -> bool:
    """Whether a line segment passes through a box (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = segment
    low, high = 0.0, 1.0
    for delta, start, lower, upper in ((x1 - x0, x0, box.x0, box.x1),
                                       (y1 - y0, y0, box.y0, box.y1)):
        if delta == 0.0:
            if not lower < start < upper:
                return False
            continue
        t0, t1 = sorted(((lower - start) / delta, (upper - start) / delta))
        low, high = max(low, t0), min(high, t1)
        if low >= high:
            return False
    return True
