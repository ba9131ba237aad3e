"""Lines, paired bars and a cohort grid drawn as PNG, in Chinese on a machine with no
CJK font of its own (the packaged Noto Sans CJK SC), from any data a programme has,
a first day's too; each kind crosses to the drawing process and back intact."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from handlers.engine import chart_kinds, charts
from handlers.engine.chart_kinds import Grid, Lines, Paired, Series
from handlers.engine.charts import Bars, Label

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[3]
BLUE, ORANGE, GREEN = "#4a7bd0", "#f0ad4e", "#5cb85c"
DAYS = tuple(f"03-{d:02d}" for d in range(1, 31))
MEMBERS = Series(Label("会员人数", "members"), tuple(3 + 4 * d for d in range(30)), BLUE)
REVENUE = Series(Label("收入（元）", "revenue"), tuple(1200 * d for d in range(30)), ORANGE,
                 right=True)
GROWTH = Lines(Label("会员与收入 · 近30天", "members and revenue, 30 days"), DAYS,
               (MEMBERS, REVENUE), Label("人数", "members"), Label("元", "CNY"))
POINTS = Paired(Label("每周积分：发放与兑换", "points issued and redeemed"),
                tuple(f"W{w}" for w in range(1, 9)),
                (Series(Label("发放", "issued"), tuple(900 * w for w in range(8)), BLUE),
                 Series(Label("兑换", "redeemed"), tuple(300 * w for w in range(8)), ORANGE)),
                Label("积分", "points"))
MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 7))
RETENTION = Grid(Label("留存率（按加入月份）", "retention by join month"), MONTHS,
                 tuple(str(c) for c in range(6)),
                 tuple(tuple(None if c > 5 - r else 100 - 15 * c - r for c in range(6))
                       for r in range(6)),
                 Label("加入月份", "joined"), Label("之后的月数", "months since"))
ONE_DAY = Series(Label("Members", "members"), (3,), BLUE)


def image(png: bytes) -> tuple[int, int]:
    from PIL import Image

    assert png.startswith(PNG)
    with Image.open(io.BytesIO(png)) as picture:
        picture.verify()
        return picture.size


def test_a_machine_without_a_cjk_font_draws_chinese_with_the_packaged_one():
    found = charts.fonts()
    assert found.chinese
    words = [label.text for label in chart_kinds.labels(GROWTH) + chart_kinds.labels(
        POINTS) + chart_kinds.labels(RETENTION)]
    glyphs = {c for text in words for c in text if not c.isspace()}
    assert all(ord(c) in found.covered for c in glyphs)
    from matplotlib.font_manager import FontProperties, findfont
    from matplotlib.ft2font import FT2Font

    path = findfont(FontProperties(family=found.families[1]), fallback_to_default=False)
    cjk = FT2Font(path)
    assert [c for c in glyphs if not c.isascii() and cjk.get_char_index(ord(c)) == 0] == []
    packaged = charts.packaged_font()
    assert packaged is not None and packaged.endswith("NotoSansCJKsc-Regular.otf")
    assert "mplfonts" not in sys.modules  # its data file read, its code left alone


def test_no_glyph_is_missing_when_chinese_is_drawn():
    """matplotlib warns of each glyph no font in the list has: a box in the picture."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        for chart in (GROWTH, POINTS, RETENTION):
            charts.draw(chart)
    assert [str(w.message) for w in said if "missing from" in str(w.message)] == []
    assert all(charts.fonts().shows(label) == label.text for label in chart_kinds.labels(
        GROWTH))


@pytest.mark.parametrize(("chart", "size"), [
    (GROWTH, (960, 540)), (POINTS, (960, 540)), (RETENTION, (960, 494))])
def test_each_kind_is_a_png_eight_inches_wide(chart, size):
    assert image(charts.draw(chart)) == size


def test_a_grid_grows_a_row_at_a_time():
    one = Grid(Label("Retention", "retention"), ("2026-03",), ("0",), ((100,),),
               Label("Joined", "joined"), Label("Months since", "months"))
    year = Grid(one.title, tuple(f"m{n}" for n in range(24)), ("0",), ((100,),) * 24,
                one.row_label, one.column_label)
    assert image(charts.draw(one)) == (960, 360)
    assert image(charts.draw(year))[1] > 1000


@pytest.mark.parametrize("chart", [
    Lines(Label("Members", "members"), ("03-01",), (ONE_DAY,)),
    Lines(Label("Members", "members"), DAYS[:3], (
        Series(ONE_DAY.label, (0, 0, 0), BLUE), Series(REVENUE.label, (0, 0, 0), ORANGE,
                                                       right=True))),
    Lines(Label("Members", "members"), (), (Series(ONE_DAY.label, (), BLUE),)),
    Lines(Label("Refunds", "refunds"), DAYS[:2], (Series(ONE_DAY.label, (-40, 25), BLUE),)),
    Paired(Label("Points", "points"), ("W1",), (
        Series(Label("issued", "issued"), (0,), BLUE),
        Series(Label("redeemed", "redeemed"), (0,), ORANGE),
        Series(Label("expired", "expired"), (0,), GREEN))),
    Grid(Label("Retention", "retention"), ("2026-03",), ("0", "1"), ((100, None),),
         Label("Joined", "joined"), Label("Months since", "months")),
    Grid(Label("Retention", "retention"), ("2026-03",), ("0",), ((None,),),
         Label("Joined", "joined"), Label("Months since", "months")),
    Grid(Label("Retention", "retention"), (), (), (), Label("Joined", "joined"),
         Label("Months since", "months")),
], ids=["one day", "all zero", "no days", "below zero", "one week of nothing",
        "one cohort", "nothing yet", "no cohort"])
def test_a_new_programme_still_gets_a_chart(chart):
    width, height = image(charts.draw(chart))
    assert width == 960 and height >= 360


async def test_any_mix_is_drawn_in_the_drawing_process():
    bars = Bars(Label("调查", "survey"), (Label("是", "yes"), Label("否", "no")), (3, 1))
    drawn = await charts.draw_all([GROWTH, bars, POINTS, RETENTION])
    assert [image(png)[0] for png in drawn.images] == [960] * 4
    assert drawn.fonts.chinese and drawn.fonts.families[0] == charts.BASE_FAMILY
    assert all(drawn.fonts.shows(label) == label.text
               for chart in (GROWTH, POINTS, RETENTION, bars)
               for label in chart_kinds.labels(chart))


@pytest.mark.parametrize("chart", [GROWTH, POINTS, RETENTION], ids=["lines", "paired", "grid"])
def test_each_kind_crosses_to_the_process_and_back(chart):
    assert pickle.loads(pickle.dumps(chart)) == chart
    assert hash(chart)  # frozen all the way down: tuples, not lists


def test_sizes_that_do_not_match_are_refused_where_the_chart_is_made():
    with pytest.raises(ValueError, match="a value per period"):
        Lines(GROWTH.title, DAYS[:2], (ONE_DAY,))
    with pytest.raises(ValueError, match="a value per period"):
        Paired(POINTS.title, ("W1", "W2"), (ONE_DAY,))
    with pytest.raises(ValueError, match="one axis"):
        Paired(POINTS.title, ("W1",), (Series(ONE_DAY.label, (1,), BLUE, right=True),))
    with pytest.raises(ValueError, match="every row and column"):
        Grid(RETENTION.title, ("2026-01",), ("0", "1"), ((100,),), RETENTION.row_label,
             RETENTION.column_label)
    with pytest.raises(ValueError, match="percents"):
        Grid(RETENTION.title, ("2026-01",), ("0",), ((101,),), RETENTION.row_label,
             RETENTION.column_label)


def test_labels_name_every_word_a_chart_draws():
    assert chart_kinds.labels(GROWTH) == (GROWTH.title, MEMBERS.label, REVENUE.label,
                                          GROWTH.y_label, GROWTH.right_label)
    assert chart_kinds.labels(RETENTION) == (RETENTION.title, RETENTION.row_label,
                                             RETENTION.column_label)
    assert [label.fallback for label in chart_kinds.labels(POINTS)] == [
        "points issued and redeemed", "issued", "redeemed", "points"]


def test_making_charts_imports_no_matplotlib():
    """The bot builds charts on its event loop; only the drawing process draws them."""
    code = ("import sys; from handlers.engine import chart_kinds, charts; "
            "assert 'matplotlib' not in sys.modules and 'numpy' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
