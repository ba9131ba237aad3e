"""@username targets: people are remembered as they are seen in a group, and chatter
from someone already remembered costs no database access at all."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from domain.community.tables import GroupPerson
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    FakeGroupChat,
    Group,
    Person,
    group_in,
    moderation_for,
)


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


@pytest.fixture
async def group(db, programme, clock, chat) -> Group:
    group = Group(moderation_for(db, programme, clock), chat)
    await group_in(group, "en")
    return group


async def people(db) -> dict[str, tuple[str | None, str]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(GroupPerson))
        return {p.user_id: (p.username, p.name) for p in rows}


@contextmanager
def counting(db):
    """Units of work opened, snapshots taken and SQL statements run meanwhile."""
    seen = {"uow": 0, "snapshot": 0, "statements": 0}
    uow, snapshot = db.uow, db.snapshot

    def opened(kind, make):
        def make_counted():
            seen[kind] += 1
            return make()
        return make_counted

    def statement(*_):
        seen["statements"] += 1

    db.uow, db.snapshot = opened("uow", uow), opened("snapshot", snapshot)
    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        db.uow, db.snapshot = uow, snapshot
        event.remove(db.engine.sync_engine, "before_cursor_execute", statement)


async def test_a_username_names_someone_once_they_were_seen(db, group, chat):
    said = await group.say(BOSS, "/mute @AnnLee 1h")
    assert said.keys == ["moderation.unknown_user"]
    await group.say(ANN, "hello all")
    said = await group.say(BOSS, "/mute @AnnLee 1h")
    assert said.text == "🔇 Ann Lee is muted for 1 hour."
    assert chat.actions[0][:2] == ("mute", ANN.user_id)


async def test_newcomers_and_whoever_is_replied_to_or_mentioned_are_seen_too(db, group):
    dora = Person("4004", "Dora Chen", "dora")
    await group.join(dora)
    await group.say(ANN, "look", reply_to=BEN, mentioned=(Person("4005", "Ed", "ed"),))
    assert await people(db) == {"4004": ("dora", "Dora Chen"), ANN.user_id: ("annlee", "Ann Lee"),
                                BEN.user_id: ("benwu", "Ben Wu"), "4005": ("ed", "Ed"),
                                BOSS.user_id: ("bea", "Bea Boss")}
    for name in ("@dora", "@benwu", "@ed"):
        assert (await group.say(BOSS, f"/warn {name}")).keys == ["moderation.warned"]


async def test_chatter_from_someone_remembered_costs_no_database_access(db, group):
    await group.say(ANN, "first words")  # remembered now; the group's settings cached
    with counting(db) as seen:
        for n in range(20):
            await group.say(ANN, f"more words {n}")
    assert seen == {"uow": 0, "snapshot": 0, "statements": 0}
    with counting(db) as seen:
        await group.say(BEN, "hi")  # someone new: one write
    assert seen["uow"] == 1 and seen["statements"] >= 1


async def test_a_new_username_or_name_is_written_and_a_taken_username_moves(db, group):
    await group.say(ANN, "hi")
    await group.say(Person(ANN.user_id, "Ann Lee-Wong", "annlee"), "new name")
    assert (await people(db))[ANN.user_id] == ("annlee", "Ann Lee-Wong")
    # Ann drops the username and Ben takes it: @annlee is Ben now.
    await group.say(Person(ANN.user_id, "Ann Lee-Wong", "ann_new"), "renamed")
    await group.say(Person(BEN.user_id, "Ben Wu", "AnnLee"), "mine now")
    said = await group.say(BOSS, "/warn @annlee")
    assert said.text.startswith("⚠️ Ben Wu has been warned")


async def test_a_username_left_by_one_person_and_taken_by_another_moves(db, group):
    await group.say(ANN, "hi")
    await group.say(Person(BEN.user_id, "Ben Wu", "annlee"), "I am annlee now")
    assert (await people(db))[ANN.user_id] == (None, "Ann Lee")
    said = await group.say(BOSS, "/warns @annlee")
    assert said.text == "Ben Wu has no warns here."


async def test_a_name_with_control_characters_or_a_huge_one_is_kept_short(db, group):
    await group.say(Person("6006", "\x1b[2J" + "n" * 500, "x" * 100), "hi")
    kept = (await people(db))["6006"]
    assert kept[0] == "x" * 64 and len(kept[1]) == 128
