"""Charts as PNG images, drawn in a process of their own.

Importing matplotlib and drawing take far longer than a message may hold the loop.
A worker thread is not enough: importing numpy and matplotlib runs C code that keeps
the interpreter lock for 20-30 ms at a time, 50 ms on a busy machine, and the loop
waits for it. So `draw_all` hands the charts to one child process, started (spawned,
not forked from a process with threads) on first use, never when the bot starts;
matplotlib is imported there alone. Figures are built with the object-oriented API on
the Agg canvas, not pyplot, so no global figure state is shared; one process draws
one chart at a time, and the other core is better spent on members than on charts.

Labels arrive translated. Chinese needs a font with its glyphs: the first CJK font
matplotlib or the system has (Noto CJK, Source Han, WenQuanYi, Droid Sans Fallback)
is used beside DejaVu Sans, else the Noto Sans CJK SC file the mplfonts package
carries, so a fresh machine draws Chinese too; a label some glyph of which no font
here has is drawn as its fallback (a code or a number) rather than as empty boxes.

`Bars` are drawn here; lines, paired bars and a cohort grid in chart_kinds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import multiprocessing
import os
import threading
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from handlers.engine.chart_kinds import Chart

BASE_FAMILY = "DejaVu Sans"  # matplotlib ships it: always there
# Family names, then words in file names, of fonts that hold Simplified Chinese.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                "Noto Serif CJK SC", "Droid Sans Fallback", "AR PL UMing CN",
                "Microsoft YaHei", "SimHei", "PingFang SC")
CJK_FILES = ("notosanscjk", "notoserifcjk", "notosanssc", "sourcehansans", "wqy",
             "droidsansfallback", "uming", "ukai", "msyh", "simhei", "pingfang")
# Noto Sans CJK SC in the mplfonts package, for a machine with no CJK font of its own.
PACKAGED_FONT = ("mplfonts", ("fonts", "NotoSansCJKsc-Regular.otf"))
WIDTH_IN, DPI = 8.0, 120
TITLE_WIDTH, LABEL_WIDTH = 64, 28  # in columns: a CJK character takes two
BLUE = "#4a7bd0"

_drawing = threading.Lock()  # one caller at a time starts or restarts the process
_pool: list[ProcessPoolExecutor] = []  # the one drawing process, once started


@dataclass(frozen=True)
class Label:
    """Words to draw, and what to draw instead when no font here has their glyphs."""

    text: str
    fallback: str


@dataclass(frozen=True)
class Bars:
    """One bar chart: a bar per label, `values` long, `notes` written at the bars'
    ends; vertical bars for a scale, horizontal ones for named choices."""

    title: Label
    labels: tuple[Label, ...]
    values: tuple[int, ...]
    notes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()  # one a bar; BLUE for all when empty
    legend: tuple[tuple[str, Label], ...] = ()  # (colour, meaning)
    axis: Label | None = None  # what the bars' categories are
    horizontal: bool = False


@dataclass(frozen=True)
class Fonts:
    families: tuple[str, ...]
    covered: frozenset[int]  # code points some family has a glyph for

    @property
    def chinese(self) -> bool:
        return len(self.families) > 1

    def shows(self, label: Label) -> str:
        """The label's words if every character has a glyph here, else its fallback."""
        if all(ord(c) in self.covered or c.isspace() for c in label.text):
            return label.text
        return label.fallback


@dataclass(frozen=True)
class Drawn:
    images: list[bytes]  # PNG, one a chart
    fonts: Fonts  # what they were drawn with


async def draw_all(charts: Sequence[Chart]) -> Drawn:
    """Each chart as PNG bytes, drawn in the drawing process. A thread waits for it,
    as starting the process and waiting both block."""
    return await asyncio.to_thread(_in_process, list(charts))


def _in_process(charts: list[Chart]) -> Drawn:
    with _drawing:
        try:
            return _process().submit(_draw_here, charts).result()
        except BrokenProcessPool:  # it died (killed, out of memory): once more, anew
            _pool.pop().shutdown(wait=False)
            return _process().submit(_draw_here, charts).result()


def _process() -> ProcessPoolExecutor:
    if not _pool:
        _pool.append(ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")))
    return _pool[0]


def _draw_here(charts: list[Chart]) -> Drawn:
    """Runs in the drawing process."""
    return Drawn([draw(chart) for chart in charts], fonts())


@cache
def fonts() -> Fonts:
    """The families to draw with and what they cover; looked up once, in the drawing
    process. A CJK font of the system's comes first, the packaged one after it."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    manager = font_manager.fontManager
    families = [BASE_FAMILY]
    known = {f.name: f.fname for f in manager.ttflist}
    cjk = next((name for name in CJK_FAMILIES if name in known), None)
    added: list[str] = []
    if cjk is None:  # installed after matplotlib built its font cache
        for path in font_manager.findSystemFonts():
            if any(hint in os.path.basename(path).lower() for hint in CJK_FILES):
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
                added.append(manager.ttflist[-1].name)
                known.setdefault(added[-1], path)
        # A .ttc is read for its first face alone, which may be named otherwise.
        cjk = next((name for name in CJK_FAMILIES if name in known), None) or \
            next(iter(added), None)
    packaged = packaged_font() if cjk is None else None
    if packaged is not None:
        try:
            manager.addfont(packaged)
        except (OSError, RuntimeError, ValueError):
            pass
        else:
            cjk = manager.ttflist[-1].name
            known[cjk] = packaged
    if cjk is not None:
        families.append(cjk)
    covered: set[int] = set()
    for family in families:
        path = known.get(family) or font_manager.findfont(family)
        covered.update(FT2Font(path).get_charmap())
    return Fonts(tuple(families), frozenset(covered))


def packaged_font() -> str | None:
    """The path of the CJK font file an installed package carries, found without
    importing the package (its code imports more than a data file needs)."""
    package, parts = PACKAGED_FONT
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    folders = spec.submodule_search_locations if spec is not None else None
    for folder in folders or ():
        path = os.path.join(folder, *parts)
        if os.path.isfile(path):
            return path
    return None


def draw(chart: Chart) -> bytes:
    """The chart as PNG bytes. Blocking, and it imports matplotlib: the bot calls it
    through `draw_all`."""
    found = fonts()
    if isinstance(chart, Bars):
        figure = _bars(chart, found)
    else:
        from handlers.engine import chart_kinds

        figure = chart_kinds.figure(chart, found)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def new_figure(height: float) -> Figure:
    """An empty figure, `height` inches high, on the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def text_style(found: Fonts) -> dict[str, Any]:
    """Text properties that draw each glyph with the first family that has it."""
    return {"family": list(found.families)}


def _bars(chart: Bars, found: Fonts) -> Figure:
    from matplotlib.patches import Patch

    text = text_style(found)
    bars = len(chart.values)
    height = 2.2 + 0.45 * bars if chart.horizontal else 4.5
    figure = new_figure(height)
    axes = figure.add_subplot()
    labels = [wrap(found.shows(label), LABEL_WIDTH) for label in chart.labels]
    colours = list(chart.colours) or BLUE
    places = range(bars)
    if chart.horizontal:
        drawn = axes.barh(places, chart.values, color=colours)
        axes.set_yticks(places, labels, **text)
        axes.invert_yaxis()  # the first choice on top, as it was asked
        axes.xaxis.set_visible(False)
    else:
        drawn = axes.bar(places, chart.values, color=colours)
        axes.set_xticks(places, labels, **text)
        axes.yaxis.set_visible(False)
    top = max(chart.values, default=0) or 1
    (axes.set_xlim if chart.horizontal else axes.set_ylim)(0, top * 1.25)
    if chart.notes:
        axes.bar_label(drawn, labels=list(chart.notes), padding=3, **text)
    for side in ("top", "right", "left" if not chart.horizontal else "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_title(wrap(found.shows(chart.title), TITLE_WIDTH), loc="left", **text)
    if chart.axis is not None:
        (axes.set_ylabel if chart.horizontal else axes.set_xlabel)(
            found.shows(chart.axis), **text)
    if chart.legend:
        axes.legend(handles=[Patch(color=colour, label=found.shows(meaning))
                             for colour, meaning in chart.legend],
                    prop=text, loc="upper left", ncols=len(chart.legend), frameon=False)
    return figure


def wrap(words: str, width: int) -> str:
    """Lines of at most `width` columns (a CJK character is two), cut at spaces where
    there are any: matplotlib does not wrap by itself. Line breaks given stay."""
    return "\n".join(_wrap_line(line, width) for line in words.split("\n"))


def _wrap_line(words: str, width: int) -> str:
    lines: list[str] = []
    line, used = "", 0
    for piece in _pieces(words):
        size = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in piece)
        if line and used + size > width:
            lines.append(line.rstrip())
            line, used = piece.lstrip(), size
        else:
            line, used = line + piece, used + size
    lines.append(line.rstrip())
    return "\n".join(lines)


def _pieces(words: str) -> list[str]:
    """Latin words with the space before them, and CJK characters one by one."""
    pieces: list[str] = []
    for c in words:
        wide = unicodedata.east_asian_width(c) in "WF"
        if pieces and not wide and not c.isspace() and not pieces[-1][-1].isspace() \
                and unicodedata.east_asian_width(pieces[-1][-1]) not in "WF":
            pieces[-1] += c
        else:
            pieces.append(c)
    return pieces
