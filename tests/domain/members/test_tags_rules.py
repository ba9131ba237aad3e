"""Tags: any script's letters, quoted tags with spaces, one normal form, and a reason for
every word refused; a segment finds such a tag on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from domain.campaigns import segments
from domain.campaigns.segments import Segment, SegmentRefused
from domain.members import tags
from domain.members.tables import Member
from domain.members.tags import TagRefused
from tests.support import crowd
from tests.support.crowd import Person


@pytest.mark.parametrize(("raw", "tag"), [
    ("VIP", "vip"), ("#vip", "vip"), ("ｖｉｐ", "vip"), ("＃VIP", "vip"),
    ("标签", "标签"), ("老客户", "老客户"), ("Tea  Lover ", "tea lover"),
    ("tea-lover", "tea-lover"),
    ("wholesale_2026", "wholesale_2026"), ("Café", "café"), ("วีไอพี", "วีไอพี"),
    ("_draft", "_draft"),
    ("x" * 32, "x" * 32),
])
def test_any_letters_are_a_tag_in_one_normal_form(raw, tag):
    assert tags.normalize(raw) == tag
    assert tags.valid(tag)


@pytest.mark.parametrize(("raw", "code"), [
    ("", "tag_empty"), ("#", "tag_empty"), ("   ", "tag_empty"),
    ("vip\x00", "tag_control"), ("v\u200bip", "tag_control"), ("a\nb", "tag_control"),
    ("-vip", "tag_dash"), ("x" * 33, "tag_too_long"),
    ("not/a/tag", "tag_char"), ("vip!", "tag_char"), ("🍵", "tag_char"),
])
def test_only_what_is_really_unusable_is_refused_and_each_says_why(raw, code):
    with pytest.raises(TagRefused) as refused:
        tags.normalize(raw)
    assert refused.value.code == code
    assert all("\x00" not in str(v) and "\n" not in str(v) for v in refused.value.params.values())


@pytest.mark.parametrize("raw", ["a,b", "a，b", "vip、老客户", "a;b", "vip,"])
def test_a_comma_between_tags_is_refused_as_a_separator(raw):
    """Tags are separated by spaces: a comma means a list was meant, and is said so."""
    with pytest.raises(TagRefused) as refused:
        tags.normalize(raw)
    assert refused.value.code == "tag_separator"


@pytest.mark.parametrize(("raw", "hashtag"), [
    ("#vip", True), ("＃VIP", True), ("  #tea lover", True), ("##vip", True),
    ("vip", False), ("-vip", False), ("标签", False),
])
def test_a_leading_hash_marks_a_hashtag_and_is_never_part_of_the_tag(raw, hashtag):
    assert tags.hashtag(raw) is hashtag
    if hashtag:
        assert not tags.normalize(raw).startswith("#")


def test_a_hash_inside_a_tag_is_refused_like_any_mark():
    with pytest.raises(TagRefused) as refused:
        tags.normalize("a#b")
    assert refused.value.code == "tag_char" and refused.value.params["char"] == "#"


def test_a_segment_reads_a_hashtag_as_tag_does(programme):
    """The one rule wherever a tag is typed: /tag and a campaign's segment alike."""
    assert tags.parse(tags.split("#VIP “#tea lover”")) == ("vip", "tea lover")
    assert segments.check(Segment(tags=tags.parse(["#vip"])), programme).tags == ("vip",)


def test_the_refusal_names_the_character_and_the_lengths():
    with pytest.raises(TagRefused) as bad:
        tags.normalize("not/a/tag")
    assert bad.value.params == {"tag": "not/a/tag", "char": "/"}
    with pytest.raises(TagRefused) as long:
        tags.normalize("y" * 40)
    assert long.value.params["length"] == 40 and long.value.params["max"] == 32


@pytest.mark.parametrize(("line", "words"), [
    ('00000001 "spaced tag"', ["00000001", "spaced tag"]),
    ("1 “tea lover” -‘old tag’ vip", ["1", "tea lover", "-old tag", "vip"]),
    ('1 -"spaced tag"', ["1", "-spaced tag"]),
    ("1 「老 客户」", ["1", "老 客户"]),
    ("  1   vip  ", ["1", "vip"]),
    ('1 ""', ["1", ""]),
])
def test_a_line_splits_as_a_shell_splits_it(line, words):
    assert tags.split(line) == words


@pytest.mark.parametrize("line", ['1 "spaced tag', "1 “tea lover", "1 'x"])
def test_an_unclosed_quote_is_refused(line):
    with pytest.raises(TagRefused) as refused:
        tags.split(line)
    assert refused.value.code == "tag_quote"


@given(st.text(max_size=40))
def test_whatever_is_accepted_is_valid_and_stable(raw):
    try:
        tag = tags.normalize(raw)
    except TagRefused:
        return
    assert tags.valid(tag) and tags.normalize(tag) == tag


def test_a_segment_holds_only_tags_in_normal_form(programme):
    assert segments.check(Segment(tags=("老客户", "tea lover")), programme)
    for bad in ("VIP", "tea  lover", " vip", "-vip", "x" * 33, "a/b"):
        with pytest.raises(SegmentRefused):
            segments.check(Segment(tags=(bad,)), programme)


async def test_a_segment_finds_chinese_and_spaced_tags(db, programme, now):
    ids = await crowd.add(db, [Person(tags=(tags.normalize("老客户"),)),
                               Person(tags=(tags.normalize("Tea Lover"),)),
                               Person(tags=("vip",))], now)
    async with db.uow() as uow:
        for typed, member in (("老客户", ids[0]), ('"Tea  LOVER"', ids[1])):
            segment = segments.check(Segment(tags=tags.parse(tags.split(typed))), programme)
            assert set(await uow.session.scalars(select(Member.id).where(
                segments.clause(segment, programme, now)))) == {member}, typed
        assert await tags.add(uow, ids[2], tags.parse(["标签", "Spaced  tag"]), now) == [
            "标签", "spaced tag"]
        assert await tags.of_member(uow, ids[2]) == sorted(["spaced tag", "vip", "标签"])
