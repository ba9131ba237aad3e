"""Member tags: short labels operators put on members ("vip", "老客户", "tea lover") so
that campaigns can pick them out.

A tag is letters and digits of any script, with "-", "_" and single spaces between
them, up to 32 characters, stored in one normal form (NFKC, lower case), so "VIP",
"ｖｉｐ" and "#vip" are one tag and a segment finds it on SQLite and PostgreSQL alike
(both compare the stored text exactly). A leading "#" is a hashtag's mark, never part
of the tag, wherever a tag is typed (/tag, a campaign's segment); "#" anywhere else is
refused like any other mark. A leading "-" means "take it away" on a command line, so
no tag starts with one. Tags are separated by spaces: a comma is refused as such.
Refusals say which rule was broken.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select

from domain.errors import DomainError
from domain.members.tables import MemberTag
from domain.storage.database import UnitOfWork

MAX_LENGTH = 32  # member_tags.tag is String(32)
MAX_PER_MEMBER = 30
MAX_AT_ONCE = 10
MARKS = ("-", "_")
HASH = "#"
# Marks that separate words in a list: typed between tags, they mean a space was meant.
SEPARATORS = frozenset(",，、;；")
# Quotes a phone may type, opening -> closing (iOS and Chinese keyboards curl them).
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "＂": "＂"}


class TagRefused(DomainError):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        super().__init__(**params)


def _allowed(char: str) -> bool:
    """Letters (with their accents and vowel signs) and digits of any script."""
    return unicodedata.category(char)[0] in "LMN"


def valid(tag: object) -> bool:
    """Whether `tag` is a tag in its normal form, checked whole (a segment's stored
    filter is checked with this before it reaches SQL)."""
    if not isinstance(tag, str) or not 0 < len(tag) <= MAX_LENGTH:
        return False
    return tag == _normal(tag) and not tag.startswith("-") and all(
        _allowed(c) or c in MARKS or c == " " for c in tag)


def _normal(raw: str) -> str:
    folded = unicodedata.normalize("NFKC", raw).lower()
    return " ".join(folded.split())


def normalize(raw: str) -> str:
    """'#VIP' -> 'vip', ' Tea   lover ' -> 'tea lover'; TagRefused naming the rule when
    it cannot be a tag: tag_empty, tag_control, tag_dash, tag_too_long, tag_separator
    (a comma where a space was meant), tag_char."""
    quoted = shown(raw)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")
           and c not in " \t" for c in raw):
        raise TagRefused("tag_control", tag=quoted)
    tag = _normal(raw).lstrip(HASH).strip()
    if not tag:
        raise TagRefused("tag_empty")
    if tag.startswith("-"):
        raise TagRefused("tag_dash", tag=quoted)
    if len(tag) > MAX_LENGTH:
        raise TagRefused("tag_too_long", tag=quoted, max=MAX_LENGTH, length=len(tag))
    bad = next((c for c in tag if not (_allowed(c) or c in MARKS or c == " ")), None)
    if bad in SEPARATORS:
        raise TagRefused("tag_separator", tag=quoted, char=bad)
    if bad is not None:
        raise TagRefused("tag_char", tag=quoted, char=bad)
    return tag


def hashtag(raw: str) -> bool:
    """Whether a word was typed as a hashtag ("#vip"), whose "#" the tag drops."""
    return _normal(raw).startswith(HASH)


def shown(raw: str) -> str:
    """A word as it can be quoted back: no control characters, not too long (a tag, or
    a command nobody knows, echoed in a reply)."""
    text = "".join(c for c in raw.strip() if unicodedata.category(c)[0] != "C")
    return text if len(text) <= MAX_LENGTH + 8 else text[:MAX_LENGTH + 7] + "…"


def parse(raw: Iterable[str]) -> tuple[str, ...]:
    """Distinct valid tags in the order given."""
    tags = tuple(dict.fromkeys(normalize(t) for t in raw if t.strip()))
    if len(tags) > MAX_AT_ONCE:
        raise TagRefused("tag_too_many", max=MAX_AT_ONCE)
    return tags


def split(line: str) -> list[str]:
    """A command line in words, as a shell splits it: quotes keep spaces inside a word
    (`vip "tea lover" -'old tag'`), straight or curly. TagRefused("tag_quote") when a
    quote is left open."""
    words: list[str] = []
    word: list[str] = []
    started = False  # a word has begun (even an empty quoted one)
    closing: str | None = None
    for char in line:
        if closing is not None:
            if char == closing:
                closing = None
            else:
                word.append(char)
        elif char in QUOTES:
            closing, started = QUOTES[char], True
        elif char.isspace():
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(char)
            started = True
    if closing is not None:
        raise TagRefused("tag_quote", quote=closing)
    if started:
        words.append("".join(word))
    return words


async def of_member(uow: UnitOfWork, member_id: int) -> list[str]:
    return list(await uow.session.scalars(
        select(MemberTag.tag).where(MemberTag.member_id == member_id).order_by(MemberTag.tag)))


async def add(uow: UnitOfWork, member_id: int, tags: Iterable[str], now: datetime) -> list[str]:
    """The tags that were new; one the member has already is left as it is."""
    wanted = [t for t in tags if t not in set(await of_member(uow, member_id))]
    held = await uow.session.scalar(select(func.count()).select_from(MemberTag)
                                    .where(MemberTag.member_id == member_id)) or 0
    if held + len(wanted) > MAX_PER_MEMBER:
        raise TagRefused("tag_limit", max=MAX_PER_MEMBER)
    if wanted:
        await uow.session.execute(
            uow.upsert(MemberTag).on_conflict_do_nothing(
                index_elements=["member_id", "tag"]),
            [{"member_id": member_id, "tag": t, "created_at": now} for t in wanted])
    return wanted


async def remove(uow: UnitOfWork, member_id: int, tags: Iterable[str]) -> list[str]:
    """The tags the member had and no longer has."""
    gone = list(await uow.session.scalars(
        delete(MemberTag).where(MemberTag.member_id == member_id,
                                MemberTag.tag.in_(list(tags))).returning(MemberTag.tag)))
    return sorted(gone)
