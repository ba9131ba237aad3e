"""Lines over time, paired bars and a cohort grid, beside charts.Bars.

Each kind is a frozen dataclass of already-translated words (`Label`s, drawn as their
fallback where no font here has a glyph) and integers: it is pickled to the drawing
process, where `figure` draws it. Sizes are checked when a chart is made, so a
mismatch fails in the caller, not in the other process. Any data draws, all zeros or
one period too: a programme opened yesterday gets a chart as well.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from handlers.engine.charts import TITLE_WIDTH, Bars, Fonts, Label, new_figure, text_style, wrap

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TICK_ROOM = 84  # columns of period labels that fit along the x axis
NOTED_BARS = 24  # paired bars carry their numbers up to this many bars
LIGHT, DARK = "#eef3fb", "#1f3f7a"  # the grid's scale, 0% to 100%


@dataclass(frozen=True)
class Series:
    """One line or one bar of each group: a value per period."""

    label: Label
    values: tuple[int, ...]
    colour: str
    right: bool = False  # on a second y axis of its own scale (Lines only)


@dataclass(frozen=True)
class Lines:
    """Values over time, a line per series; `x` are period labels ("03-01")."""

    title: Label
    x: tuple[str, ...]
    series: tuple[Series, ...]
    y_label: Label | None = None  # the left axis
    right_label: Label | None = None  # the right axis, when a series is on it

    def __post_init__(self) -> None:
        _check_lengths(self.x, self.series)


@dataclass(frozen=True)
class Paired:
    """Two or three bars side by side per period, e.g. points issued and redeemed."""

    title: Label
    x: tuple[str, ...]
    groups: tuple[Series, ...]
    y_label: Label | None = None

    def __post_init__(self) -> None:
        _check_lengths(self.x, self.groups)
        if any(group.right for group in self.groups):
            raise ValueError("paired bars share one axis")


@dataclass(frozen=True)
class Grid:
    """Cohort retention: a row per joining month, a column per month since, each cell
    a percent 0-100, or None for a month still to come (left blank)."""

    title: Label
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[int | None, ...], ...]
    row_label: Label
    column_label: Label

    def __post_init__(self) -> None:
        if len(self.cells) != len(self.rows) or any(
                len(row) != len(self.columns) for row in self.cells):
            raise ValueError("a grid needs a cell for every row and column")
        if any(cell is not None and not 0 <= cell <= 100 for row in self.cells
               for cell in row):
            raise ValueError("a grid's cells are percents, 0 to 100")


Chart: TypeAlias = Bars | Lines | Paired | Grid


def labels(chart: Chart) -> tuple[Label, ...]:
    """Every Label a chart draws: to tell whether some fell back for want of a font."""
    if isinstance(chart, Bars):
        words = (chart.title, *chart.labels, *(meaning for _, meaning in chart.legend),
                 chart.axis)
    elif isinstance(chart, Grid):
        words = (chart.title, chart.row_label, chart.column_label)
    else:
        each = chart.series if isinstance(chart, Lines) else chart.groups
        words = (chart.title, *(s.label for s in each), chart.y_label,
                 chart.right_label if isinstance(chart, Lines) else None)
    return tuple(label for label in words if label is not None)


def figure(chart: Lines | Paired | Grid, found: Fonts) -> Figure:
    """The chart drawn, in the drawing process (charts.draw saves it as PNG)."""
    if isinstance(chart, Lines):
        return _lines(chart, found)
    if isinstance(chart, Paired):
        return _paired(chart, found)
    return _grid(chart, found)


def _lines(chart: Lines, found: Fonts) -> Figure:
    text = text_style(found)
    picture = new_figure(4.5)
    axes = picture.add_subplot()
    _heading(axes, chart.title, found)
    places = range(len(chart.x))
    left = [s for s in chart.series if not s.right]
    right = [s for s in chart.series if s.right]
    marker = "o" if len(chart.x) <= 40 else None  # one period is a dot, not a line
    handles: list[Any] = []
    pairs = [(axes, left, chart.y_label)]
    if right:
        pairs.append((axes.twinx(), right, chart.right_label))
    for side, series, name in pairs:
        for s in series:
            handles += side.plot(places, s.values, color=s.colour, marker=marker,
                                 markersize=4, linewidth=2, label=found.shows(s.label))
        _counts(side, (v for s in series for v in s.values))
        if name is not None:
            side.set_ylabel(found.shows(name), **text)
        side.spines["top"].set_visible(False)
    if not right:
        axes.spines["right"].set_visible(False)
    _periods(axes, chart.x, text)
    if len(chart.x) == 1:
        axes.set_xlim(-1, 1)
    _legend(picture, handles, text)
    return picture


def _paired(chart: Paired, found: Fonts) -> Figure:
    text = text_style(found)
    picture = new_figure(4.5)
    axes = picture.add_subplot()
    _heading(axes, chart.title, found)
    width = 0.8 / max(len(chart.groups), 1)
    handles: list[Any] = []
    for n, group in enumerate(chart.groups):
        shift = (n - (len(chart.groups) - 1) / 2) * width
        drawn = axes.bar([i + shift for i in range(len(chart.x))], group.values, width,
                         color=group.colour, label=found.shows(group.label))
        handles.append(drawn)
        if len(chart.x) * len(chart.groups) <= NOTED_BARS:
            axes.bar_label(drawn, labels=[f"{v:,}" for v in group.values], padding=2,
                           fontsize=8)
    _counts(axes, (v for group in chart.groups for v in group.values))
    _periods(axes, chart.x, text)
    if len(chart.x) == 1:
        axes.set_xlim(-1, 1)
    if chart.y_label is not None:
        axes.set_ylabel(found.shows(chart.y_label), **text)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    _legend(picture, handles, text)
    return picture


def _grid(chart: Grid, found: Fonts) -> Figure:
    from matplotlib.colors import LinearSegmentedColormap

    text = text_style(found)
    picture = new_figure(max(3.0, 1.6 + 0.42 * len(chart.rows)))
    axes = picture.add_subplot()
    _heading(axes, chart.title, found)
    scale = LinearSegmentedColormap.from_list("retention", (LIGHT, DARK)).with_extremes(
        bad="white")
    if chart.rows and chart.columns:  # NaN is masked: a month to come stays blank
        axes.imshow([[math.nan if c is None else c for c in row] for row in chart.cells],
                    cmap=scale, vmin=0, vmax=100, aspect="auto", interpolation="nearest")
    size = 9 if len(chart.columns) <= 12 else 7
    for y, row in enumerate(chart.cells):
        for x, cell in enumerate(row):
            if cell is not None:
                axes.text(x, y, f"{cell}%", ha="center", va="center", fontsize=size,
                          color="white" if cell >= 55 else "#222222")
    axes.set_xticks(range(len(chart.columns)), chart.columns, **text)
    axes.set_yticks(range(len(chart.rows)), chart.rows, **text)
    axes.set_xlabel(found.shows(chart.column_label), **text)
    axes.set_ylabel(found.shows(chart.row_label), **text)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    return picture


def _check_lengths(x: tuple[str, ...], series: tuple[Series, ...]) -> None:
    if any(len(s.values) != len(x) for s in series):
        raise ValueError("every series needs a value per period")


def _heading(axes: Axes, title: Label, found: Fonts) -> None:
    axes.set_title(wrap(found.shows(title), TITLE_WIDTH), loc="left", **text_style(found))


def _counts(axes: Axes, values: Iterable[int]) -> None:
    """A y axis of whole numbers with thousands marked, from zero (or below it, for a
    negative value) to a little above the highest; 0 to 1 when all are zero."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    seen = list(values)
    low, high = min(0, min(seen, default=0)), max(0, max(seen, default=0))
    pad = (high - low) * 0.12 or 1
    axes.set_ylim(low - pad if low < 0 else 0, high + pad)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _periods(axes: Axes, x: Sequence[str], text: dict[str, Any]) -> None:
    """Period labels along the x axis, every n-th of them when all would not fit."""
    widest = max((sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
                  for label in x), default=1)
    step = max(1, math.ceil(len(x) / max(1, TICK_ROOM // (widest + 2))))
    shown = range(0, len(x), step)
    axes.set_xticks(shown, [x[i] for i in shown], **text)


def _legend(figure: Figure, handles: list[Any], text: dict[str, Any]) -> None:
    if handles:
        figure.legend(handles=handles, loc="outside lower center", frameon=False,
                      ncols=min(len(handles), 4), prop=text)
