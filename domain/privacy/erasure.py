"""Erasure (/deleteme; GDPR Art. 17, PIPL Art. 47): a member's personal data erased,
their points and purchase history kept true.

A member asks, confirms twice, and a cooling-off of `[privacy] cooling_off_days`
follows (cancelled by `/deleteme cancel`); an owner erasing on a member's request skips
it. When it is due, one transaction (`erase`):
- forfeits the points left, with a ledger entry that says so (kind "expire", reason
  "forfeited": as breakage in the figures), and voids the coupons not used;
- keeps a keyed hash of each platform account (domain/privacy/returning.py), then
  removes the accounts, their conversation state and their delivered messages, and
  what group moderation noted about them; the gated chats they sit in lapse with no
  grace, so the platform's side removes them at its next pass (and then forgets the
  seat: domain/community/removals.py), their other seats go at once; what bot/ keeps
  of a platform's own (its registered erasers, `register`) goes too;
- blanks the profile (name, phone, birthday, language, time zone), the tags, the
  free-text survey answers, the support messages' text and pictures, what the staff
  chat was told of them (its posts' words, their topic's name; the topic is closed)
  and what staff were told in private with their words in it, the notices not sent
  yet (and what those sent said) and any data download waiting;
- marks the member erased. Ledger rows, purchases, redemptions, deliveries and the
  audit trail stay, under the member's number alone, so balances, figures and the
  trail stay true.
The job also forgets platform deliveries older than INBOX_KEEP (kept so a redelivery is
answered once, they hold what members wrote).

What is overwritten must not stay readable in the database file: SQLite connections
run with secure_delete (domain/storage/database.py), which zeroes what a write frees,
and `Database.scrub` truncates the write-ahead log after the job, so no older copy of
a page stays in it either. On PostgreSQL the old row versions stay until VACUUM
reclaims them; the job runs one on the tables it touched (see the README).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, tuple_, update

from domain.community.tables import (
    Gate,
    GroupCaptcha,
    GroupPerson,
    GroupReport,
    GroupRestriction,
    GroupWarn,
    Seat,
)
from domain.config import Programme
from domain.conversations import inbox
from domain.conversations.tables import Conversation
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members.members import member_number, new_code
from domain.members.tables import Identity, LinkCode, Member, MemberTag
from domain.membership import subscriptions
from domain.notices import notices
from domain.notices.tables import Notice
from domain.points import ledger
from domain.privacy import returning
from domain.privacy.tables import DataDownload, ErasureRequest
from domain.rewards.tables import Coupon
from domain.staff import audit
from domain.staff.tables import StaffRole
from domain.storage.database import Database, UnitOfWork
from domain.support import staff_chat
from domain.support.tables import SupportConversation, SupportMessage, SupportPost, SupportTopic

WAITING, CANCELLED, DONE = "waiting", "cancelled", "done"
BATCH = 50  # due requests read at a time; each member is erased in a transaction of its own
INBOX_KEEP = timedelta(days=1)  # platforms redeliver within hours
PRUNE = 2000  # deliveries forgotten by one transaction
# The tables erasure overwrites or deletes from: what PostgreSQL's VACUUM should reclaim.
TOUCHED = ("members", "identities", "member_tags", "survey_answers", "support_messages",
           "conversations", "notices", "data_downloads", "group_people", "group_warns",
           "link_codes", "inbox", "community_seats", "support_topics", "support_posts",
           "group_captchas", "group_reports", "group_restrictions", "membership_subscriptions")
_R = ErasureRequest.__table__
# Notices to staff that carry what a member wrote, and the parameter naming the member.
STAFF_TOLD = (("support.staff.waiting", "member"), ("survey.low_score", "number"))
# What the domain cannot see is erased by whoever keeps it: a platform's own state in
# bot/ (its service windows, its membership cards) registers an eraser at composition
# (`register`), called in the erasing transaction with the member's id and accounts
# ((platform, id) pairs), before the accounts are removed.
Eraser = Callable[[UnitOfWork, int, list[tuple[str, str]]], Awaitable[None]]
_ERASERS: dict[str, tuple[Eraser, tuple[str, ...]]] = {}


def register(name: str, eraser: Eraser, tables: Sequence[str] = ()) -> None:
    """Add (or replace) an eraser, and the tables it overwrites or deletes from, which
    the job's clean-up (Database.scrub) then covers too."""
    _ERASERS[name] = (eraser, tuple(tables))


def touched() -> tuple[str, ...]:
    """The tables erasure writes: TOUCHED and those of every registered eraser."""
    return TOUCHED + tuple(t for _, tables in _ERASERS.values() for t in tables
                           if t not in TOUCHED)


@dataclass(frozen=True)
class Erased:
    member_id: int
    forfeited: int  # points
    coupons: int  # voided
    accounts: int  # unlinked


async def ask(uow: UnitOfWork, programme: Programme, member_id: int, channel: str,
              now: datetime, staff_id: int | None = None) -> datetime:
    """Ask for the member's erasure; when it will happen. Staff's is due at once."""
    due = now if staff_id is not None else now + timedelta(
        days=programme.privacy.cooling_off_days)
    values = {"state": WAITING, "asked_at": now, "due_at": due, "channel": channel,
              "staff_id": staff_id, "done_at": None}
    insert = uow.upsert(_R)
    await uow.execute(insert.values(member_id=member_id, **values).on_conflict_do_update(
        index_elements=["member_id"], set_=values))
    return due


async def pending(uow: UnitOfWork, member_id: int) -> ErasureRequest | None:
    return await uow.session.scalar(select(ErasureRequest).where(
        ErasureRequest.member_id == member_id, ErasureRequest.state == WAITING))


async def cancel(uow: UnitOfWork, member_id: int) -> bool:
    """Call the erasure off; False when none was waiting."""
    return bool(await uow.changed(update(_R).where(
        _R.c.member_id == member_id, _R.c.state == WAITING).values(state=CANCELLED)))


async def due(uow: UnitOfWork, now: datetime, limit: int) -> list[int]:
    return list(await uow.session.scalars(
        select(_R.c.member_id).where(_R.c.state == WAITING, _R.c.due_at <= now)
        .order_by(_R.c.due_at).limit(limit)))


async def erase(uow: UnitOfWork, programme: Programme, member_id: int, now: datetime,
                actor: str = "privacy") -> Erased | None:
    """Erase the member (the module's rule); None when there is nobody to erase. Its
    thirty-odd statements run off the loop: on SQLite, inline, they held it for tens
    of milliseconds an erasure, and the retention job may erase thousands in a row."""
    with uow.off_loop():
        return await _erase(uow, programme, member_id, now, actor)


async def _erase(uow: UnitOfWork, programme: Programme, member_id: int, now: datetime,
                 actor: str) -> Erased | None:
    member = await uow.session.scalar(select(Member).where(Member.id == member_id)
                                      .with_for_update())
    await uow.execute(update(_R).where(_R.c.member_id == member_id, _R.c.state == WAITING)
                      .values(state=DONE, done_at=now))
    if member is None or member.status == "erased":
        return None
    forfeited = await ledger.settle(uow, member, now)
    if forfeited > 0:
        await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=-forfeited, kind="expire", reason="forfeited",
            key=f"erase:{member_id}", source="privacy"), now)
    coupons = await uow.changed(update(Coupon).where(
        Coupon.member_id == member_id, Coupon.status == "issued").values(status="void"))
    await subscriptions.end_for_erasure(uow, programme, member_id, now)  # paid plans end
    accounts = [(p, e) for p, e in await uow.session.execute(
        select(Identity.platform, Identity.external_id).where(Identity.member_id == member_id))]
    await returning.remember(uow, accounts, now)
    await _forget_accounts(uow, member_id, accounts, now)
    await _blank(uow, member, now)
    await audit.record(uow, actor, "privacy.erase", member_number(member_id),
                       {"points": forfeited, "coupons": coupons}, now)
    return Erased(member_id, forfeited, coupons, len(accounts))


async def _forget_accounts(uow: UnitOfWork, member_id: int, accounts: list[tuple[str, str]],
                           now: datetime) -> None:
    # Gated chats: lapsed with no grace. A seat the platform's side is to take out of
    # its chat keeps the account until then (removals.removed deletes it after); the
    # member's other seats (out already, or in a chat that only warns) go now.
    removing = select(Gate.id).where(Gate.on_lapse == "remove", Gate.dry_run.is_(False))
    present = (Seat.member_id == member_id, Seat.status.in_(("in", "lapsed")),
               Seat.gate_id.in_(removing))
    await uow.execute(delete(Seat).where(Seat.member_id == member_id,
                                         ~and_(*present[1:])))
    await uow.execute(update(Seat).where(*present, Seat.lapsed_at.is_(None))
                      .values(lapsed_at=now))
    await uow.execute(update(Seat).where(*present)
                      .values(status="lapsed", remove_after=now, updated_at=now))
    if accounts:
        pairs = tuple_(Conversation.platform, Conversation.user_id).in_(accounts)
        await uow.execute(delete(Conversation).where(pairs))
        for table in (GroupPerson, GroupWarn, GroupCaptcha):
            await uow.execute(delete(table).where(
                tuple_(table.platform, table.user_id).in_(accounts)))
        # Their reports keep what was reported, for the admins, but not who reported it;
        # a mute or ban still in force stays on the account alone (erasing is no way
        # round a ban), and one that has ended goes.
        await uow.execute(update(GroupReport).where(
            tuple_(GroupReport.platform, GroupReport.reporter_id).in_(accounts))
            .values(reporter_id=""))
        restricted = tuple_(GroupRestriction.platform, GroupRestriction.user_id)
        await uow.execute(delete(GroupRestriction).where(
            restricted.in_(accounts), GroupRestriction.until.is_not(None),
            GroupRestriction.until <= now))
    for eraser, _ in _ERASERS.values():
        await eraser(uow, member_id, accounts)
    await uow.execute(delete(LinkCode).where(LinkCode.member_id == member_id))
    await uow.execute(delete(Identity).where(Identity.member_id == member_id))


async def _blank(uow: UnitOfWork, member: Member, now: datetime) -> None:
    mid = member.id
    await uow.execute(delete(MemberTag).where(MemberTag.member_id == mid))
    await uow.execute(delete(Notice).where(Notice.member_id == mid,
                                           Notice.status.in_(("pending", "deferred"))))
    await uow.execute(update(Notice).where(Notice.member_id == mid,
                                           Notice.status.in_(notices.FINAL)).values(params={}))
    await _untell_staff(uow, mid)
    await uow.execute(delete(DataDownload).where(DataDownload.member_id == mid))
    conversations = select(SupportConversation.id).where(SupportConversation.member_id == mid)
    await uow.execute(update(SupportMessage).where(
        SupportMessage.conversation_id.in_(conversations)).values(
        text="", picture_platform=None, picture_ref=None, picture_url=None,
        picture_size=None))
    # The staff chat: what waited to be posted about them is dropped, what was posted
    # keeps none of their words, their topic's name is forgotten, and the topic is
    # closed with their conversation.
    posts = (SupportPost.member_id == mid,)
    await uow.execute(update(SupportPost).where(
        *posts, SupportPost.status.in_(("pending", "sending"))).values(status=staff_chat.DROPPED))
    await uow.execute(update(SupportPost).where(*posts).values(params={}))
    await uow.execute(update(SupportTopic).where(SupportTopic.member_id == mid)
                      .values(title=None))
    still_open = list(await uow.session.scalars(select(SupportConversation.id).where(
        SupportConversation.member_id == mid, SupportConversation.status != "closed")))
    await uow.execute(update(SupportConversation).where(
        SupportConversation.id.in_(still_open))
        .values(status="closed", open_member_id=None, closed_at=now, closed_by="privacy",
                updated_at=now))
    for conversation_id in still_open:
        await staff_chat.topic_step(uow, mid, staff_chat.CLOSE_TOPIC, conversation_id, now)
    for response_id, question in await _free_text(uow, mid):
        await uow.execute(update(SurveyAnswer).where(
            SurveyAnswer.response_id == response_id, SurveyAnswer.question == question)
            .values(value=None))
    member.display_name = member.phone = member.locale = member.language_hint = None
    member.timezone = None
    member.birth_month = member.birth_day = member.birth_year = None
    member.phone_verified = member.marketing_consent = False
    member.personalised = True
    member.referral_code = f"E{new_code(11)}"  # the old one would still lead to them
    member.status = "erased"
    await uow.flush()


async def _untell_staff(uow: UnitOfWork, member_id: int) -> None:
    """What staff were told in private about the member, with words the member wrote
    (STAFF_TOLD; where there is no staff chat): those notices keep none of it, and
    one not sent yet never goes."""
    number = member_number(member_id)
    told = or_(*(and_(Notice.key == key, Notice.params[param].as_string() == number)
                 for key, param in STAFF_TOLD))
    # Read through the staff's own notices (by member, indexed), never the whole queue.
    staff = list(await uow.session.scalars(select(StaffRole.member_id).distinct()))
    ids = list(await uow.session.scalars(select(Notice.id).where(
        Notice.member_id.in_(staff), told))) if staff else []
    if ids:
        await uow.execute(update(Notice).where(
            Notice.id.in_(ids), Notice.status.in_(("pending", "sending", "deferred")))
            .values(status=notices.WITHDRAWN))
        await uow.execute(update(Notice).where(Notice.id.in_(ids)).values(params={}))


async def _free_text(uow: UnitOfWork, member_id: int) -> list[tuple[int, str]]:
    """(response, question) of the member's answers to text questions, as each survey's
    definition names them."""
    found: list[tuple[int, str]] = []
    rows: Any = await uow.session.execute(
        select(SurveyResponse.id, Survey.definition).join(
            Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.member_id == member_id))
    for response_id, definition in rows:
        found += [(response_id, str(q.get("code"))) for q in definition.get("questions", ())
                  if isinstance(q, dict) and q.get("kind") == "text"]
    return found


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    """The job: every member whose erasure is due, one transaction each; then no older
    copy of what was erased is left readable (Database.scrub)."""
    erased = forfeited = 0
    while True:
        async with db.uow() as uow:
            ids = await due(uow, now, BATCH)
        for member_id in ids:
            async with db.uow() as uow:
                done = await erase(uow, programme, member_id, now)
                await uow.commit()
            if done is not None:
                erased, forfeited = erased + 1, forfeited + done.forfeited
        if len(ids) < BATCH:
            break
    while True:  # deliveries kept for redelivery hold what members wrote: a day at most
        async with db.uow() as uow:
            pruned = await inbox.prune(uow, now - INBOX_KEEP, PRUNE)
            await uow.commit()
        if pruned < PRUNE:
            break
    if erased:
        await db.scrub(touched())
    return {"erased": erased, "points": forfeited}


async def erased_members(uow: UnitOfWork) -> list[int]:
    """Every erased member's number: what a copy restored in this database's place
    must erase again."""
    return list(await uow.session.scalars(
        select(Member.id).where(Member.status == "erased").order_by(Member.id)))


async def erase_again(db: Database, programme: Programme, member_ids: Sequence[int],
                      now: datetime) -> int:
    """In a restored copy, erase the members the database it replaces had erased: a
    backup taken before an erasure must not bring the member back. Returns how many
    were erased here (those the copy already had erased, or never had, are skipped)."""
    again = 0
    for member_id in member_ids:
        async with db.uow() as uow:
            if await erase(uow, programme, member_id, now, actor="restore") is not None:
                again += 1
            await uow.commit()
    if again:
        await db.scrub(touched())
    return again
