"""Sending a running campaign: claiming deliveries in batches, recording outcomes, and
the progress the operator sees.

A claim marks a batch "sending" with a lease in one transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so several senders share a campaign without waiting on each
other) and returns what the sender needs. A sender that dies leaves its rows leased;
when the lease runs out they are claimed again, so nobody is skipped. Outcomes are
recorded as each send ends, so after a crash only the sends that were in flight can
go again. A member who withdrew consent or became unreachable since the start is
skipped at the claim; a coupon offer issues each member's coupon at the claim too,
so its code can be in the message. A sender that claimed rows it will not send after
all (the campaign was paused or cancelled, or the process is stopping) releases them:
they are pending again, as if never claimed. A coupon whose message is known not to
have reached its member (released, unreachable, deferred, refused) is withdrawn, so
nobody holds an offer they were never told of; one whose send failed in a way that
may have delivered it is kept.

A survey's campaign is a service message: it goes to members without marketing
consent, but not to one who turned surveys off since the start (skipped), nor in the
quiet hours of the member's own day: such a row is put back under a lease that ends
with the hour, and claimed again then. Each member's response is made at the claim
(one per campaign, its occasion), so the invitation can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, delete, func, or_, select, update

from domain.campaigns import campaigns
from domain.campaigns.tables import Campaign, Delivery
from domain.config import Programme
from domain.feedback import responses, surveys
from domain.feedback.tables import SurveyOptOut
from domain.members import members
from domain.members.tables import Identity, Member
from domain.rewards import catalogue, coupons
from domain.rewards.tables import Coupon
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(seconds=30)
FINAL = ("sent", "failed", "rejected", "unreachable", "deferred", "skipped")
RELEASE = "release"  # the outcome of a claimed row that was never handed to a platform
UNSENT = ("unreachable", "deferred", "rejected")  # final, and known not to have arrived
BUCKET = {"sent": "sent", "failed": "failed", "rejected": "failed", "unreachable": "unreachable",
          "deferred": "unreachable", "skipped": "unreachable", "pending": "remaining",
          "sending": "remaining"}
_D = Delivery.__table__
_AT = UTCDateTime()


@dataclass(frozen=True)
class CouponInfo:
    code: str
    reward: str
    expires_at: datetime


@dataclass(frozen=True)
class Work:
    delivery_id: int
    member_id: int
    variant: str
    locale: str  # the language the member reads (members.language)
    accounts: tuple[tuple[str, str], ...]  # (platform, external id), oldest link first
    coupon: CouponInfo | None = None
    survey_response: int | None = None  # a survey's campaign: the member's response


@dataclass(frozen=True)
class Progress:
    total: int  # members messaged (the holdout is not counted)
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    remaining: int = 0
    held_out: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.unreachable

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


async def running(uow: UnitOfWork) -> list[Campaign]:
    """Campaigns being sent, and those whose progress message is behind
    their status (paused, resumed, finished, cancelled since it was last shown)."""
    return campaigns.detached(uow, list(await uow.session.scalars(
        select(Campaign).where(or_(
            Campaign.status == "running",
            and_(Campaign.progress_message.is_not(None), Campaign.progress_at.is_(None))))
        .order_by(Campaign.id))))


def _claim_statement(status: str, dialect: str) -> Any:
    stmt = (select(Delivery.id, Delivery.member_id, Delivery.variant, Delivery.coupon_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Delivery.campaign_id == bindparam("b_campaign"),
                   Campaign.status == "running", Delivery.status == status)
            .order_by(Delivery.id).limit(bindparam("b_limit", type_=Integer())))
    if status == "sending":  # a dead sender's lease, or a retry whose pause is over
        stmt = stmt.where(Delivery.lease_until <= bindparam("b_now", type_=_AT))
    if dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Delivery)
    return stmt


_CLAIM = {(status, dialect): _claim_statement(status, dialect)
          for status in ("sending", "pending") for dialect in ("sqlite", "postgresql")}
_TAKE = (update(_D).where(_D.c.id.in_(bindparam("b_ids", expanding=True)))
         .values(status="sending", lease_until=bindparam("b_until", type_=_AT),
                 attempts=_D.c.attempts + 1))


async def claim(uow: UnitOfWork, programme: Programme, campaign: Campaign, now: datetime,
                limit: int = 200) -> list[Work]:
    params = {"b_campaign": campaign.id, "b_limit": limit, "b_now": now}
    rows = list(await uow.session.execute(_CLAIM["sending", uow.dialect], params))
    if len(rows) < limit:
        params["b_limit"] = limit - len(rows)
        rows += list(await uow.session.execute(_CLAIM["pending", uow.dialect], params))
    if not rows:
        return []
    await uow.session.execute(_TAKE, {"b_ids": [r.id for r in rows],
                                      "b_until": now + LEASE})
    ids = [r.member_id for r in rows]
    people = {m.id: m for m in await uow.session.execute(
        select(Member.id, members.language_column(programme).label("language"), Member.status,
               Member.marketing_consent, Member.timezone).where(Member.id.in_(ids)))}
    accounts: dict[int, list[tuple[str, str]]] = {}
    for member_id, platform, external_id in await uow.session.execute(
            select(Identity.member_id, Identity.platform, Identity.external_id)
            .where(Identity.member_id.in_(ids)).order_by(Identity.id)):
        accounts.setdefault(member_id, []).append((platform, external_id))
    if campaign.survey_id is None:
        refused = {r.id for r in rows if not people[r.member_id].marketing_consent}
    else:
        off = set(await uow.session.scalars(
            select(SurveyOptOut.member_id).where(SurveyOptOut.member_id.in_(ids))))
        refused = {r.id for r in rows if r.member_id in off}
    gone = {r.id: ("unreachable" if people[r.member_id].status != "active" else "skipped")
            for r in rows if people[r.member_id].status != "active" or r.id in refused}
    if gone:
        await finish(uow, [(d, outcome, None, "at claim") for d, outcome in gone.items()], now)
    live = [r for r in rows if r.id not in gone]
    if campaign.survey_id is not None:
        live = await _awake(uow, programme, live, people, now)
    issued = await _coupons(uow, programme, campaign, live, now)
    asked = await _responses(uow, campaign, live, now)
    return [Work(r.id, r.member_id, r.variant, people[r.member_id].language,
                 tuple(accounts.get(r.member_id, ())), issued.get(r.id),
                 asked.get(r.member_id)) for r in live]


_LATER = (update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == "sending")
          .values(lease_until=bindparam("b_until", type_=_AT),
                  attempts=case((_D.c.attempts > 0, _D.c.attempts - 1), else_=0)))


async def _awake(uow: UnitOfWork, programme: Programme, rows: list[Any],
                 people: dict[int, Any], now: datetime) -> list[Any]:
    """The rows whose members are not in their quiet hours; the others wait, leased
    until the hour ends (the claim's attempt not counted)."""
    later = {r.id: surveys.quiet_until(programme, people[r.member_id].timezone, now)
             for r in rows}
    waiting = [{"b_id": d, "b_until": until} for d, until in later.items() if until]
    if waiting:
        await uow.session.execute(_LATER, waiting)
    return [r for r in rows if later[r.id] is None]


async def _responses(uow: UnitOfWork, campaign: Campaign, rows: list[Any],
                     now: datetime) -> dict[int, int]:
    """A survey's campaign: each member's response, made at the first claim."""
    if campaign.survey_id is None or not rows:
        return {}
    return await responses.open_many(uow, campaign.survey_id,
                                     [r.member_id for r in rows], "campaign",
                                     f"campaign:{campaign.id}", now)


async def _coupons(uow: UnitOfWork, programme: Programme, campaign: Campaign, rows: list[Any],
                   now: datetime) -> dict[int, CouponInfo]:
    """Each member's coupon: issued at the first claim, found again at a retry."""
    if not campaign.coupon_reward or not rows:
        return {}
    await catalogue.refresh(uow, programme)  # the coupon as the catalogue has it now
    item = programme.reward(campaign.coupon_reward)
    if item is None:
        return {}
    found = {c.id: c for c in await uow.session.execute(
        select(Coupon.id, Coupon.code, Coupon.reward, Coupon.expires_at)
        .where(Coupon.id.in_([r.coupon_id for r in rows if r.coupon_id is not None])))}
    out = {r.id: CouponInfo(found[r.coupon_id].code, found[r.coupon_id].reward,
                            found[r.coupon_id].expires_at)
           for r in rows if r.coupon_id in found}
    new = [r for r in rows if r.id not in out]
    if not new:
        return out
    until = now + timedelta(days=item.coupon_days)
    issued = await coupons.issue_many(uow, [r.member_id for r in new], item, now)
    await uow.session.execute(
        update(_D).where(_D.c.id == bindparam("b_id")).values(coupon_id=bindparam("b_coupon")),
        [{"b_id": r.id, "b_coupon": cid} for r, (cid, _) in zip(new, issued, strict=True)])
    for r, (_, code) in zip(new, issued, strict=True):
        out[r.id] = CouponInfo(code, item.code, until)
    return out


_FINISH = (update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == "sending")
           .values(status=bindparam("b_status"), platform=bindparam("b_platform"),
                   detail=bindparam("b_detail"), sent_at=bindparam("b_sent", type_=_AT),
                   lease_until=None))
# A passing failure goes back to the queue after a pause, until it has had its attempts.
_RETRY = (update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == "sending")
          .values(status=case((_D.c.attempts >= MAX_ATTEMPTS, "failed"), else_="sending"),
                  platform=bindparam("b_platform"), detail=bindparam("b_detail"),
                  lease_until=bindparam("b_until", type_=_AT)))


async def finish(uow: UnitOfWork, outcomes: list[tuple[int, str, str | None, str | None]],
                 now: datetime) -> None:
    """Record how sends ended: (delivery id, outcome, platform, detail) each, outcome one
    of FINAL, RELEASE (never handed to a platform) or "retry". Only rows still
    "sending" change, so a late or repeated outcome never overwrites one recorded."""
    final = [{"b_id": d, "b_status": o, "b_platform": p, "b_detail": (x or "")[:200] or None,
              "b_sent": now if o == "sent" else None}
             for d, o, p, x in outcomes if o in FINAL]
    retry = [{"b_id": d, "b_platform": p, "b_detail": (x or "")[:200] or None,
              "b_until": now + RETRY_AFTER} for d, o, p, x in outcomes
             if o not in FINAL and o != RELEASE]
    if final:
        await uow.session.execute(_FINISH, final)
    if retry:
        await uow.session.execute(_RETRY, retry)
    unsent = [d for d, o, _, _ in outcomes if o in UNSENT]
    if unsent:
        await _withdraw(uow, unsent, UNSENT)
    await release(uow, [d for d, o, _, _ in outcomes if o == RELEASE])


async def release(uow: UnitOfWork, delivery_ids: list[int]) -> None:
    """Hand claimed rows back unsent: pending again, the claim's attempt not counted,
    and the coupon issued for the message withdrawn (the next claim issues another)."""
    if not delivery_ids:
        return
    await uow.session.execute(
        update(_D).where(_D.c.id.in_(delivery_ids), _D.c.status == "sending")
        .values(status="pending", lease_until=None,
                attempts=case((_D.c.attempts > 0, _D.c.attempts - 1), else_=0)))
    await _withdraw(uow, delivery_ids, ("pending",))


async def _withdraw(uow: UnitOfWork, delivery_ids: list[int], statuses: tuple[str, ...]) -> None:
    """Take back the unused coupons of these deliveries, where they now have one of
    `statuses` (so a late outcome for a row already sent takes nothing back)."""
    mine = and_(_D.c.id.in_(delivery_ids), _D.c.status.in_(statuses),
                _D.c.coupon_id.is_not(None))
    withdrawn: list[int] = list(await uow.session.scalars(select(_D.c.coupon_id).where(mine)))
    if withdrawn:
        await uow.session.execute(update(_D).where(mine).values(coupon_id=None))
        await uow.session.execute(delete(Coupon).where(Coupon.id.in_(withdrawn),
                                                       Coupon.status == "issued"))


async def extend(uow: UnitOfWork, delivery_ids: list[int], now: datetime) -> None:
    """Renew the lease of sends still in flight (a long flood wait)."""
    if delivery_ids:
        await uow.session.execute(
            update(_D).where(_D.c.id.in_(delivery_ids), _D.c.status == "sending")
            .values(lease_until=now + LEASE))


async def due(uow: UnitOfWork, now: datetime) -> bool:
    """Whether any running campaign has a delivery to claim now (not one waiting for
    its member's quiet hours to end, nor one in flight)."""
    return bool(await uow.session.scalar(select(
        select(Delivery.id).join(Campaign, Campaign.id == Delivery.campaign_id).where(
            Campaign.status == "running",
            or_(Delivery.status == "pending",
                and_(Delivery.status == "sending", Delivery.lease_until <= now))).exists())))


# Deliveries not yet sent of campaigns under way, by kind and the campaign's status:
# the campaigns by their status index, then each one's rows on ix_campaign_deliveries_due.
_PENDING = (
    select(Campaign.survey_id.is_(None), Campaign.status, func.count())
    .select_from(Campaign).join(Delivery, Delivery.campaign_id == Campaign.id)
    .where(Campaign.status.in_(("running", "paused")),
           Delivery.status.in_(("pending", "sending")))
    .group_by(Campaign.survey_id.is_(None), Campaign.status))


async def pending_counts(uow: UnitOfWork) -> dict[tuple[str, str], int]:
    """(kind: campaign or survey, campaign status) -> deliveries still to send, for
    monitoring; read it from a snapshot, as it counts every such row."""
    rows = await uow.session.execute(_PENDING)
    return {("campaign" if plain else "survey", status): int(count)
            for plain, status, count in rows}


async def take_over(uow: UnitOfWork, now: datetime) -> int:
    """Void the leases of rows in flight. Only for a process that knows it is alone, so
    what a dead one left resumes at once instead of when its leases run out."""
    return await uow.changed(
        update(_D).where(_D.c.status == "sending", _D.c.lease_until > now)
        .values(lease_until=now))


async def progress(uow: UnitOfWork, campaign: Campaign) -> Progress:
    counts: dict[str, int] = {"sent": 0, "failed": 0, "unreachable": 0, "remaining": 0}
    held = 0
    found = list(await uow.session.execute(
        select(Delivery.status, func.count()).where(Delivery.campaign_id == campaign.id)
        .group_by(Delivery.status)))
    for status, number in found:
        if status == "holdout":
            held = int(number)
        else:
            counts[BUCKET.get(status, "failed")] += int(number)
    total = sum(counts.values())
    return Progress(total=total, held_out=held, **counts)


async def complete(uow: UnitOfWork, campaign_id: int, now: datetime) -> bool:
    """Mark a running campaign done once nothing is left to send; True for the one
    caller that did."""
    left = select(Delivery.id).where(Delivery.campaign_id == campaign_id,
                                     Delivery.status.in_(("pending", "sending"))).exists()
    return await uow.changed(
        update(Campaign.__table__).where(Campaign.id == campaign_id,
                                         Campaign.status == "running", ~left)
        .values(status="done", finished_at=now, progress_at=None)) == 1


async def progress_turn(uow: UnitOfWork, campaign_id: int, now: datetime,
                        every: timedelta, status: str) -> bool:
    """Whether this caller should show the progress now: one process at a time, at most
    once per `every`, or at once after the status changed (progress_at was cleared).
    `status` is the one the caller read: if it has changed since (the campaign just
    finished), the turn is left for the next look, which shows the new status, instead
    of being spent on the old one and the end never shown."""
    return await uow.changed(
        update(Campaign.__table__).where(
            Campaign.id == campaign_id, Campaign.status == status,
            or_(Campaign.progress_at.is_(None), Campaign.progress_at <= now - every))
        .values(progress_at=now)) == 1


async def shown(uow: UnitOfWork, campaign_id: int, message_id: str | None) -> None:
    """Remember the progress message, so later updates edit it (also after a restart)."""
    await uow.session.execute(update(Campaign.__table__).where(Campaign.id == campaign_id)
                              .values(progress_message=message_id))
