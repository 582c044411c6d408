"""Helpers shared by the PNG charts: PNG bytes, legends beside the axes.

matplotlib is not imported at module level: every function takes the Figure or Axes it
works on (or imports inside), so importing this module stays light. Colours come from
:mod:`portfolio.report.palette`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["figure_png", "legend_beside"]


def figure_png(figure: Any, dpi: float | None = None) -> bytes:
    """A matplotlib Figure as PNG bytes, cropped to what is drawn.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        The chart.
    dpi : float, optional
        Resolution; the figure's own when omitted.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi or "figure", bbox_inches="tight",
                   pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


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
