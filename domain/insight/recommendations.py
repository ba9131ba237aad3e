"""Personal reward picks: up to three catalogue items for one member, each with why.

Candidates are what the catalogue's own judgement (domain.rewards.rewards.judge, as
/rewards and the redemption use it) lets the member have now, and items it refuses
only for points when the member's usual earning over the next HORIZON_DAYS covers the
gap. Nothing refused for anything else (switched off, dates, tier, stock, the
per-member limit) is ever a candidate.

A candidate's score is the product of three parts, each raised to its weight in
`Weights` (0 leaves a part out):
  popularity  its popularity in the member's tier (Model.popularity);
  together    the product of its lifts with each item the member redeemed before
              (Model.lift, domain.insight.cooccurrence), within 1/MAX_LIFT..MAX_LIFT:
              items taken with theirs rise, items taken instead of theirs sink;
  closeness   closeness in points: cost / balance for what they can redeem now, so the
              points they have are put to use rather than a cheap item picked every
              time; for an item still out of reach, REACHABLE less the share of their
              usual earning that it still needs.
A product, not a sum, because the parts are ratios of likelihood: a lift of 3 should
triple an item's chances whatever its popularity. An item no member has redeemed has
nothing to speak for it and is never picked. Ties go to the cheaper item, then to the
code, so the same data always gives the same picks.

Each pick carries a reason code and its parameters, for handlers to word:
  ("points_to_go", {"points": n})   not affordable yet: n points to go
  ("chosen_with", {"reward": code}) often chosen with an item the member redeemed
  ("tier_popular", {"tier": code})  popular with the member's tier
  ("popular", {})                   popular with members (the tier has too few takers)

`rank` is the core and takes plain data; the async functions below load that data, and
benchmarks/recommendations.py evaluates the very same `rank` on generated history.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select

from domain.config import Programme, RewardItem
from domain.insight.cooccurrence import Model
from domain.members.tables import Member
from domain.points import ledger, lots
from domain.points.tables import LedgerEntry
from domain.rewards import catalogue as edits
from domain.rewards import rewards
from domain.rewards.rewards import Offer
from domain.rewards.tables import Redemption, RewardStock
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime

PICKS = 3
HORIZON_DAYS = 30  # "could reach soon": within this many days of usual earning
EARNING_WINDOW_DAYS = 90  # usual earning is read from this many days back
MAX_LIFT = 20.0  # bounds the product of lifts, however long a member's history
REACHABLE = 0.5  # an item still out of reach counts half one they can have now
MIN_TOGETHER = 3  # members who took both before "often chosen with" is said
MIN_LIFT = 2.0  # and how much more often than chance
MIN_TIER_TAKERS = 3  # takers in the tier before "popular with <tier>" is said


@dataclass(frozen=True)
class Weights:
    """Exponents of the score's parts; 0 leaves a part out."""

    popularity: float = 1.0
    together: float = 1.0
    closeness: float = 1.0


WEIGHTS = Weights()


@dataclass(frozen=True)
class Pick:
    item: RewardItem
    reason: str
    params: dict[str, Any]
    needed: int = 0  # points still missing; 0 when the member can redeem it now


def usual_earning(earned: int, joined_at: datetime | None, now: datetime) -> int:
    """The points a member usually earns in HORIZON_DAYS, from the `earned` of the last
    EARNING_WINDOW_DAYS; a newer member's from the days since they joined, but never
    fewer than HORIZON_DAYS of them (a first big purchase is no rate)."""
    days = EARNING_WINDOW_DAYS if joined_at is None else (now - joined_at).days
    days = max(HORIZON_DAYS, min(EARNING_WINDOW_DAYS, days))
    return max(earned, 0) * HORIZON_DAYS // days


def candidates(offers: Iterable[Offer], reach: int) -> list[Offer]:
    """What the member may redeem now, or lacks only points for that `reach` covers."""
    return [o for o in offers
            if o.locked is None or (o.locked == "points" and o.needed <= reach)]


def rank(model: Model, tier: str | None, history: Collection[str], offers: Iterable[Offer],
         balance: int, reach: int, limit: int = PICKS, weights: Weights = WEIGHTS
         ) -> list[Pick]:
    """The best `limit` candidates among `offers` (rewards.judge's verdicts for this
    member) for a member of `tier` who redeemed `history`, holds `balance` points and
    usually earns `reach` in HORIZON_DAYS."""
    offers = list(offers)
    named = {o.item.code for o in offers}  # a partner is named only while in the catalogue
    past = sorted(set(history))
    scored = []
    for offer in candidates(offers, reach):
        code = offer.item.code
        if not model.takers.get(code):
            continue
        lifts = [(model.lift(h, code), h) for h in past if h != code]
        together = min(max(math.prod(lift for lift, _ in lifts), 1 / MAX_LIFT), MAX_LIFT)
        score = (model.popularity(tier, code) ** weights.popularity
                 * together ** weights.together
                 * closeness(offer, balance, reach) ** weights.closeness)
        partner = None  # the strongest lift; `past` is sorted, so the earlier code on a tie
        for lift in lifts:
            if lift[1] in named and (partner is None or lift[0] > partner[0]):
                partner = lift
        # Nine significant digits: a tie in the data is a tie here, whatever the float noise.
        scored.append((-float(f"{score:.9g}"), offer.item.cost, code, offer, partner))
    scored.sort(key=lambda s: s[:3])
    return [_pick(model, tier, offer, partner) for *_, offer, partner in scored[:limit]]


def closeness(offer: Offer, balance: int, reach: int) -> float:
    """How well the item's cost fits the member's points (see the module's notes)."""
    cost = offer.item.cost
    if offer.locked is None:
        return cost / max(balance, cost)
    return REACHABLE * (1 - offer.needed / (reach + 1))


def _pick(model: Model, tier: str | None, offer: Offer,
          partner: tuple[float, str] | None) -> Pick:
    code = offer.item.code
    if offer.locked is not None:
        return Pick(offer.item, "points_to_go", {"points": offer.needed}, offer.needed)
    if partner is not None and partner[0] >= MIN_LIFT \
            and model.together.get(code, {}).get(partner[1], 0) >= MIN_TOGETHER:
        return Pick(offer.item, "chosen_with", {"reward": partner[1]})
    if tier is not None and model.tier_takers.get(tier, {}).get(code, 0) >= MIN_TIER_TAKERS:
        return Pick(offer.item, "tier_popular", {"tier": tier})
    return Pick(offer.item, "popular", {})


# ------------------------------------------------------------------ from the database

_E, _RD = LedgerEntry.__table__, Redemption.__table__
_EARNED = (select(_E.c.member_id, func.sum(_E.c.delta))
           .where(_E.c.member_id.in_(bindparam("ids", expanding=True)), _E.c.kind == "earn",
                  _E.c.delta > 0, _E.c.created_at > bindparam("since", type_=UTCDateTime()))
           .group_by(_E.c.member_id))
_TAKEN = (select(_RD.c.member_id, _RD.c.reward, func.count())
          .where(_RD.c.member_id.in_(bindparam("ids", expanding=True)))
          .group_by(_RD.c.member_id, _RD.c.reward))


async def picks(uow: UnitOfWork, programme: Programme, model: Model, member: Member,
                balance: int, now: datetime, limit: int = PICKS) -> list[Pick]:
    """/rewards: the picks of a member already loaded, at the balance the screen shows
    (ledger.settle's); none for one who turned personal picks off
    (domain/privacy/consents.py)."""
    if not member.personalised:
        return []
    items = await edits.refresh(uow, programme)
    stock = await rewards.stock_of(uow, programme)
    taken = await rewards.counts(uow, member.id)
    earned = await _earned(uow, [member.id], now)
    return _ranked(programme, model, items, stock, member, balance, taken,
                   earned.get(member.id, 0), now, limit)


async def for_member(uow: UnitOfWork, programme: Programme, model: Model, member_id: int,
                     now: datetime, limit: int = PICKS) -> list[Pick]:
    """A member's picks by id (a campaign's "recommended for you"); none for an unknown
    member."""
    return (await for_members(uow, programme, model, [member_id], now, limit)).get(
        member_id, [])


async def for_members(uow: UnitOfWork, programme: Programme, model: Model,
                      member_ids: Sequence[int], now: datetime,
                      limit: int = PICKS) -> dict[int, list[Pick]]:
    """Picks for many members in a few queries: a campaign's slice. Reads only: the
    balance is what the member may spend now, expired points left out unwritten."""
    if not member_ids:
        return {}
    ids = list(member_ids)
    items = await edits.refresh(uow, programme)
    stock = await rewards.stock_of(uow, programme)
    found = list(await uow.session.scalars(select(Member).where(Member.id.in_(ids))))
    taken: dict[int, dict[str, int]] = {}
    for member_id, reward, n in await uow.execute(_TAKEN, {"ids": ids}):
        taken.setdefault(member_id, {})[reward] = n
    earned = await _earned(uow, ids, now)
    out: dict[int, list[Pick]] = {}
    for member in found:
        if not member.personalised:  # turned personal picks off: the plain words
            out[member.id] = []
            continue
        balance = await _spendable(uow, member, now)
        out[member.id] = _ranked(programme, model, items, stock, member, balance,
                                 taken.get(member.id, {}), earned.get(member.id, 0), now,
                                 limit)
    return out


def _ranked(programme: Programme, model: Model, items: Iterable[RewardItem],
            stock: Mapping[str, RewardStock], member: Member, balance: int,
            taken: Mapping[str, int], earned: int, now: datetime, limit: int) -> list[Pick]:
    offers = [rewards.judge(programme, item, member, balance, taken.get(item.code, 0),
                            stock.get(item.code), now) for item in items]
    reach = usual_earning(earned, member.joined_at, now)
    return rank(model, member.tier, list(taken), offers, balance, reach, limit)


async def _earned(uow: UnitOfWork, ids: list[int], now: datetime) -> dict[int, int]:
    since = now - timedelta(days=EARNING_WINDOW_DAYS)
    rows = await uow.execute(_EARNED, {"ids": ids, "since": since})
    return {member_id: int(total) for member_id, total in rows}


async def _spendable(uow: UnitOfWork, member: Member, now: datetime) -> int:
    """The balance less points expired but not yet written off, without writing."""
    if member.next_expiry_at is None or member.next_expiry_at > now:
        return member.points_balance
    return sum(lot.remaining for lot in lots.replay(await ledger.movements(uow, member.id))
               if lot.expires_at is None or lot.expires_at > now)
