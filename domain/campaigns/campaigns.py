"""Campaigns (营销活动): a message to a segment that an operator confirmed, started at its
time by writing one delivery row per member, then sent by the dispatcher in bot/.

Starting is resumable and never holds the members in memory: deliveries are written
by `INSERT .. SELECT` over one range of member ids per short transaction (ranges
sized to the time they take), and the range
reached is committed with them (`start_cursor`), under a lease, so a start cut short
by a crash goes on from there and two starters never both write.

Each member's variant (or the holdout) comes from a hash of the campaign's seed and
the member id, computed the same way in SQL and in `assign`, so the assignment is
reproducible: the same campaign puts the same member in the same group every time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    update,
)

from domain.campaigns import segments
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.config import LOCALES, Programme
from domain.errors import DomainError
from domain.members.tables import Member
from domain.staff import audit
from domain.storage import turns
from domain.storage.database import Database, UnitOfWork, upsert
from domain.storage.tables import UTCDateTime

MAX_TEXT = 1000
SPLITS = range(10, 91)  # percent of the messaged members who get variant A, with two
MAX_HOLDOUT = 50
MAX_BONUS = 1000  # extra percent; 100 doubles the points
MAX_BONUS_DAYS = 90
MAX_AHEAD = timedelta(days=90)
ATTRIBUTION_DAYS = 7
BUCKETS = 10_000  # assignment granularity: basis points
HASH_MULTIPLIER = 1_103_515_245
HASH_MODULUS = 2_147_483_647  # 2**31 - 1, a prime: every product stays below 2**62
START_BATCH = 20_000  # member ids per transaction when writing deliveries, at most
# The first range; later ones are sized to what fits in a short transaction (on SQLite
# the write lock is held while the range is written, so members wait that long).
START_FIRST = 1_000
START_LEASE = timedelta(minutes=10)
OPEN = ("scheduled", "starting", "running", "paused")


class CampaignRefused(DomainError):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        super().__init__(**params)


# A variant's words: one text for every member, or a text per language ({"en": ..}).
Words = str | Mapping[str, str]


@dataclass(frozen=True)
class Draft:
    """What the operator chose. One message, or two for an A/B test split
    `split`:100-split, each one text or a text per language; `holdout` percent of the
    segment is kept back and sent nothing."""

    segment: Segment
    texts: tuple[Words, ...]
    split: int = 100
    holdout: int = 0
    coupon: str | None = None  # a reward code of the catalogue
    bonus_percent: int | None = None  # a points multiplier window: extra percent...
    bonus_days: int | None = None  # ...for this many days from the start
    send_at: datetime | None = None  # None: now
    # A survey sent to the segment (its id): the message is its invitation, so no text
    # of the operator's, no offer and no A/B test.
    survey: int | None = None
    survey_title: Mapping[str, str] | None = None  # its title in each language


@dataclass(frozen=True)
class Author:
    """Who confirmed it (any staff member allowed to), and the chat where its progress
    is shown. Stored in the campaign's operator_* columns."""

    member_id: int
    platform: str
    chat: str
    locale: str


@dataclass(frozen=True)
class Created:
    campaign: Campaign
    duplicate: bool


@dataclass(frozen=True)
class Shares:
    holdout: int  # basis points of the segment
    variants: list[tuple[str, int]] = field(default_factory=list)  # (code, basis points)


def check(draft: Draft, programme: Programme, now: datetime) -> Draft:
    segments.check(draft.segment, programme)
    if draft.survey is not None:
        if draft.texts or draft.split != 100 or draft.coupon or draft.bonus_percent \
                or not draft.survey_title:
            raise CampaignRefused("survey")
        return _checked_time(_checked_holdout(draft), now)
    if not 1 <= len(draft.texts) <= 2:
        raise CampaignRefused("variants")
    for words in draft.texts:
        texts = [words] if isinstance(words, str) else list(words.values())
        if not isinstance(words, str) and (not texts or not set(words) <= set(LOCALES)):
            raise CampaignRefused("variants")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise CampaignRefused("text_empty")
            if len(text) > MAX_TEXT:
                raise CampaignRefused("text_long", max=MAX_TEXT)
    if len(draft.texts) == 1 and draft.split != 100 or (
            len(draft.texts) == 2 and draft.split not in SPLITS):
        raise CampaignRefused("split")
    _checked_holdout(draft)
    if draft.coupon is not None and programme.reward(draft.coupon) is None:
        raise CampaignRefused("coupon")
    if (draft.bonus_percent is None) != (draft.bonus_days is None) or (
            draft.bonus_percent is not None and draft.coupon is not None):
        raise CampaignRefused("offer")
    if draft.bonus_percent is not None and not (
            1 <= draft.bonus_percent <= MAX_BONUS and 1 <= (draft.bonus_days or 0)
            <= MAX_BONUS_DAYS):
        raise CampaignRefused("bonus")
    return _checked_time(draft, now)


def _checked_holdout(draft: Draft) -> Draft:
    if not 0 <= draft.holdout <= MAX_HOLDOUT:
        raise CampaignRefused("holdout", max=MAX_HOLDOUT)
    return draft


def _checked_time(draft: Draft, now: datetime) -> Draft:
    if draft.send_at is not None and not now < draft.send_at <= now + MAX_AHEAD:
        raise CampaignRefused("send_at", days=MAX_AHEAD.days)
    return draft


def stored_variant(code: str, words: Words, share: int, programme: Programme) -> dict[str, Any]:
    """A variant as its campaign stores it: "text", what goes to a member whose language
    has no text of its own (the default language's, else the first), and "texts" by
    language; or "text" alone, for every member."""
    if isinstance(words, str):
        return {"code": code, "text": words, "share": share}
    texts = {c: words[c] for c in LOCALES if c in words}
    return {"code": code, "text": texts[fallback(texts, programme.default_locale)],
            "texts": texts, "share": share}


def stored_variants(draft: Draft, split: Shares, programme: Programme) -> list[dict[str, Any]]:
    """The variants a campaign of `draft` stores; a survey's is its invitation, worded
    in its title's languages."""
    if draft.survey is not None:
        return [{"code": "A", "text": "", "survey": dict(draft.survey_title or {}),
                 "share": split.variants[0][1]}]
    return [stored_variant(code, words, share, programme)
            for (code, share), words in zip(split.variants, draft.texts, strict=True)]


def languages(texts: tuple[Words, ...]) -> list[str]:
    """The languages written for, in any variant; none when one text goes to all."""
    return [c for c in LOCALES if any(not isinstance(w, str) and c in w for w in texts)]


def fallback(texts: Mapping[str, str], default: str) -> str:
    return default if default in texts else next(c for c in LOCALES if c in texts)


def text_for(stored: Mapping[str, Any], language: str, default: str) -> tuple[str, str]:
    """The words of a stored variant for a member who reads `language`, and the language
    the whole message is then in: their own text, else the fallback text in its own
    language (so the offer below it reads the same); one text for all speaks theirs."""
    texts: Mapping[str, str] = stored.get("texts") or {}
    if not texts:
        return stored["text"], language
    if language in texts:
        return texts[language], language
    shown = fallback(texts, default)
    return texts[shown], shown


def shares(variants: int, split: int, holdout: int) -> Shares:
    """Basis points of the segment for the holdout and each variant; they sum to 10,000."""
    held = holdout * BUCKETS // 100
    rest = BUCKETS - held
    if variants == 1:
        return Shares(held, [("A", rest)])
    a = rest * split // 100
    return Shares(held, [("A", a), ("B", rest - a)])


def bucket(seed: int, member_id: int) -> int:
    """0..9,999: the member's place in this campaign. A step of a linear generator, then
    two squarings, all modulo a prime and salted with the campaign's seed: the squarings
    make it non-linear, so neighbouring member ids land far apart and each campaign
    orders members its own way (multiplications alone would give every campaign an
    arithmetic progression, which clumps). Integers only; SQL computes the same."""
    x = (member_id * HASH_MULTIPLIER + seed) % HASH_MODULUS
    x = (x * x + seed) % HASH_MODULUS
    x = (x * x + seed) % HASH_MODULUS
    return x % BUCKETS


def assign(campaign: Campaign, member_id: int) -> str:
    """The group `member_id` falls in, exactly as the start writes it."""
    spot, edge = bucket(campaign.seed, member_id), campaign.holdout
    if spot < edge:
        return "holdout"
    for variant in campaign.variants:
        edge += variant["share"]
        if spot < edge:
            return variant["code"]
    return campaign.variants[-1]["code"]


async def create(uow: UnitOfWork, programme: Programme, author: Author, draft: Draft,
                 key: str, now: datetime) -> Created:
    """Write the campaign, scheduled for its time (now: the next start pass)."""
    check(draft, programme, now)
    split = shares(max(len(draft.texts), 1), draft.split, draft.holdout)
    variants = stored_variants(draft, split, programme)
    values: dict[str, Any] = dict(
        key=key, status="scheduled", segment=draft.segment.dump(), variants=variants,
        holdout=split.holdout, seed=1 + secrets.randbelow(HASH_MODULUS - 1),
        coupon_reward=draft.coupon, survey_id=draft.survey,
        bonus_percent=draft.bonus_percent, bonus_days=draft.bonus_days,
        attribution_days=ATTRIBUTION_DAYS, send_at=draft.send_at or now,
        created_by=author.member_id, created_at=now, operator_platform=author.platform,
        operator_chat=author.chat[:128], operator_locale=author.locale, start_cursor=0,
        recipients=0, held_out=0)
    new_id = await uow.session.scalar(
        uow.upsert(Campaign).values(**values)
        .on_conflict_do_nothing(index_elements=["key"]).returning(Campaign.id))
    if new_id is None:
        existing = await uow.session.scalar(select(Campaign).where(Campaign.key == key))
        assert existing is not None  # the key's conflict was this row
        return Created(existing, duplicate=True)
    await audit.record(uow, audit.member_actor(author.member_id), "campaign.create",
                       f"campaign:{new_id}", {
                           "segment": draft.segment.dump(), "variants": len(draft.texts),
                           "survey": draft.survey,
                           "languages": languages(draft.texts),
                           "split": draft.split, "holdout": draft.holdout,
                           "coupon": draft.coupon, "bonus": draft.bonus_percent,
                           "days": draft.bonus_days,
                           "send_at": (draft.send_at or now).isoformat()}, now)
    created = await get(uow, new_id)
    assert created is not None  # inserted by this transaction
    return Created(created, duplicate=False)


async def get(uow: UnitOfWork, campaign_id: int) -> Campaign | None:
    """The campaign as it is now, detached: a snapshot that stays readable after the
    unit of work ends (changes go through `control` and the start, never the object)."""
    found = await uow.session.get(Campaign, campaign_id, populate_existing=True)
    return detached(uow, [found])[0] if found is not None else None


async def recent(uow: UnitOfWork, limit: int, offset: int = 0) -> list[Campaign]:
    return detached(uow, list(await uow.session.scalars(
        select(Campaign).order_by(Campaign.id.desc()).limit(limit).offset(offset))))


def detached(uow: UnitOfWork, found: list[Campaign]) -> list[Campaign]:
    for campaign in found:
        uow.session.expunge(campaign)
    return found


async def count(uow: UnitOfWork) -> int:
    return await uow.session.scalar(select(func.count()).select_from(Campaign)) or 0


# --------------------------------------------------------------------------- control

_C = Campaign.__table__
CONTROL = {
    # action: (statuses it applies to, the new status)
    "pause": (("scheduled", "starting", "running"), "paused"),
    "cancel": (OPEN, "cancelled"),
    "resume": (("paused",), None),  # back to running, or scheduled if it never started
}


async def control(uow: UnitOfWork, actor_id: int, action: str, campaign_id: int,
                  now: datetime) -> Campaign:
    """Pause, resume or cancel, with one conditional UPDATE so two operators (or an
    operator and the dispatcher) cannot both win; refused with the current status."""
    if action not in CONTROL:
        raise CampaignRefused("action")
    allowed, target = CONTROL[action]
    status: Any = target if target is not None else case(
        (_C.c.started_at.is_(None), "scheduled"), else_="running")
    values: dict[str, Any] = {"status": status, "progress_at": None}
    if action == "cancel":
        values["finished_at"] = now
    changed = await uow.session.scalar(
        update(_C).where(_C.c.id == campaign_id, _C.c.status.in_(allowed)).values(**values)
        .returning(_C.c.status))
    campaign = await get(uow, campaign_id)
    if campaign is None:
        raise CampaignRefused("unknown")
    if changed is None:
        raise CampaignRefused(f"already_{campaign.status}")
    await audit.record(uow, audit.member_actor(actor_id), f"campaign.{action}",
                       f"campaign:{campaign_id}", {"status": changed}, now)
    return campaign


async def cancel_for_survey(uow: UnitOfWork, survey_id: int, now: datetime) -> int:
    """The survey was closed: its campaigns still to send are cancelled (the close is
    what the audit log records). How many."""
    return await uow.changed(
        update(_C).where(_C.c.survey_id == survey_id, _C.c.status.in_(OPEN))
        .values(status="cancelled", finished_at=now, progress_at=None))


# --------------------------------------------------------------------------- start

_due_now = bindparam("b_now", type_=UTCDateTime())
_DUE = or_(and_(_C.c.status == "scheduled", _C.c.send_at <= _due_now),
           and_(_C.c.status == "starting", _C.c.start_lease_until <= _due_now))
CLAIM_START = (
    update(_C).where(_C.c.id == select(_C.c.id).where(_DUE).order_by(_C.c.send_at, _C.c.id)
                     .limit(1).scalar_subquery(), _DUE)
    .values(status="starting", start_lease_until=bindparam("b_until", type_=UTCDateTime()))
    .returning(_C.c.id))


async def start_due(db: Database, programme: Programme, now: datetime) -> int:
    """Start every campaign whose time has come, and any start a dead process left;
    returns how many are now running."""
    started = 0
    while True:
        async with db.uow() as uow:
            campaign_id = await uow.session.scalar(
                CLAIM_START, {"b_now": now, "b_until": now + START_LEASE})
            await uow.commit()
        if campaign_id is None:
            return started
        started += await start(db, programme, campaign_id, now)


async def start(db: Database, programme: Programme, campaign_id: int, now: datetime) -> int:
    """Write the deliveries of a campaign this caller holds the start lease of, batch by
    batch; 1 when it is running at the end, 0 when it was paused, cancelled or taken
    over meanwhile."""
    async with db.uow() as uow:
        campaign = await get(uow, campaign_id)
        top = await uow.session.scalar(select(func.max(Member.id))) or 0
    assert campaign is not None
    stmt = deliveries_statement(campaign, programme, db.dialect)
    cursor, span = campaign.start_cursor, START_FIRST
    while cursor < top:
        upto = min(cursor + span, top)
        async with db.uow() as uow:
            began = time.perf_counter()
            with uow.off_loop():
                await uow.session.execute(stmt, {"b_lo": cursor, "b_hi": upto})
            span = turns.resized(span, time.perf_counter() - began, db.dialect,
                                 START_FIRST, START_BATCH)
            moved = await uow.changed(
                update(_C).where(_C.c.id == campaign_id, _C.c.status == "starting",
                                 _C.c.start_cursor == cursor)
                .values(start_cursor=upto, start_lease_until=now + START_LEASE))
            if moved != 1:
                return 0
            await uow.commit()
        cursor = upto
    async with db.uow() as uow:
        counts = dict((await uow.session.execute(
            select(Delivery.status, func.count()).where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status))).all())
        held, total = int(counts.get("holdout", 0)), sum(int(n) for n in counts.values())
        values: dict[str, Any] = dict(status="running", started_at=now, start_lease_until=None,
                                      recipients=total - held, held_out=held, progress_at=None)
        if campaign.bonus_percent is not None and campaign.bonus_days is not None:
            values.update(bonus_starts=now, bonus_ends=now + timedelta(days=campaign.bonus_days))
        moved = await uow.changed(
            update(_C).where(_C.c.id == campaign_id, _C.c.status == "starting").values(**values))
        if moved != 1:
            return 0
        await audit.record(uow, audit.member_actor(campaign.created_by), "campaign.send",
                           f"campaign:{campaign_id}",
                           {"recipients": total - held, "holdout": held}, now)
        await uow.commit()
    return 1


def deliveries_statement(campaign: Campaign, programme: Programme, dialect: str) -> Any:
    """INSERT .. SELECT of the deliveries of members with ids in (b_lo, b_hi]."""
    m = Member.__table__.c
    modulus, seed = literal(HASH_MODULUS, BigInteger()), literal(campaign.seed, BigInteger())
    x = (m.id * literal(HASH_MULTIPLIER, BigInteger()) + seed) % modulus
    x = (x * x + seed) % modulus
    x = (x * x + seed) % modulus
    segment = Segment.load(campaign.segment)
    picked = select(m.id.label("member_id"), (x % BUCKETS).label("spot")).where(
        m.id > bindparam("b_lo", type_=BigInteger()), m.id <= bindparam("b_hi", type_=BigInteger()),
        segments.clause(segment, programme, campaign.send_at, campaign.survey_id)
    ).subquery("picked")
    spot = picked.c.spot
    edge, whens = campaign.holdout, []
    for variant in campaign.variants[:-1]:
        edge += variant["share"]
        whens.append((spot < edge, variant["code"]))
    variant = case((spot < campaign.holdout, "holdout"), *whens,
                   else_=campaign.variants[-1]["code"])
    status = case((spot < campaign.holdout, "holdout"), else_="pending")
    # The WHERE keeps SQLite from reading ON CONFLICT as a join's ON.
    chosen = select(literal(campaign.id, BigInteger()), picked.c.member_id, variant, status,
                    literal(0)).where(true())
    return (upsert(dialect, Delivery.__table__)
            .from_select(["campaign_id", "member_id", "variant", "status", "attempts"], chosen)
            .on_conflict_do_nothing(index_elements=["campaign_id", "member_id"]))
