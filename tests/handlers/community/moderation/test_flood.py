"""Antiflood: counted in memory, an album once, admins exempt, each action, and the
settings commands. Plain chatter costs no database access once the group's settings
are cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.community import group_settings, restrictions
from handlers.community.moderation import flood, newcomers
from handlers.community.moderation.dispatch import GroupRouter, Moderation
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    LOG_ID,
    PLATFORM,
    TEA_ID,
    FakeGroupChat,
    Group,
)
from tests.support.transcript import Clock

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


def lane_router() -> GroupRouter:
    router = GroupRouter()
    router.include(flood.router)
    router.include(newcomers.router)
    return router


@pytest.fixture(autouse=True)
def fresh_counts():
    flood.forget()
    yield
    flood.forget()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


@pytest.fixture
def group(db, programme, clock, chat) -> Group:
    return Group(Moderation(db, programme, lane_router(), "memberbot", clock=clock), chat)


async def settle(db, **changes) -> None:
    async with db.uow() as uow:
        await group_settings.change(uow, PLATFORM, TEA_ID, "test", T0, **changes)
        await uow.commit()


async def kept(db, user, at=T0):
    async with db.uow() as uow:
        return [(r.kind, r.until) for r in
                await restrictions.active(uow, PLATFORM, TEA_ID, user.user_id, at)]


async def test_n_messages_in_a_row_mute_by_default_and_the_mute_is_kept(db, group, chat):
    await settle(db, language="en")
    said = await group.say(BOSS, "/setflood 3")
    assert "whoever sends 3 messages in a row within 10 seconds is muted until" in said.text
    assert not (await group.say(ANN, "one")).replies
    assert not (await group.say(ANN, "two")).replies
    said = await group.say(ANN, "three")
    assert said.keys == ["moderation.flood.acted"]
    assert said.text == "@annlee sent too many messages in a row and is muted until an " \
                        "admin lifts it."
    assert chat.muted == {ANN.user_id: None}
    assert await kept(db, ANN) == [("mute", None)]
    # The run starts over: one flood is acted on once.
    assert not (await group.say(ANN, "four")).replies


async def test_chatter_costs_no_database_access(db, group, monkeypatch):
    await group.say(BOSS, "/setflood 5")  # the settings are now cached
    opened = []
    for name in ("uow", "snapshot"):
        real = getattr(db, name)
        monkeypatch.setattr(db, name, lambda real=real, name=name: opened.append(name) or real())
    for n in range(4):
        await group.say(ANN if n % 2 else BEN, f"hello {n}")
    await group.say(ANN, "photo", album="a1")
    assert opened == []


async def test_an_album_counts_once(db, group, chat):
    await group.say(BOSS, "/setflood 3")
    for _ in range(6):
        assert not (await group.say(ANN, "", album="holiday")).replies
    assert not (await group.say(ANN, "nice, right?")).replies  # the second message
    assert chat.actions == []
    said = await group.say(ANN, "", album="more")  # another album: the third
    assert said.keys == ["moderation.flood.acted"] and chat.muted == {ANN.user_id: None}


async def test_someone_else_speaking_or_a_pause_starts_the_run_over(db, group, clock, chat):
    await group.say(BOSS, "/setflood 3")
    await group.say(ANN, "a")
    await group.say(ANN, "b")
    await group.say(BEN, "c")
    await group.say(ANN, "d")
    await group.say(ANN, "e")
    clock.advance(seconds=11)
    said = await group.say(ANN, "f")
    assert not said.replies and chat.actions == []


async def test_admins_are_exempt(db, group, chat):
    await group.say(BOSS, "/setflood 3")
    for n in range(10):
        assert not (await group.say(BOSS, f"announcement {n}")).replies
    assert chat.actions == []


async def test_off_by_default_and_off_again(db, group, chat):
    for n in range(10):
        await group.say(ANN, f"{n}")
    await group.say(BOSS, "/setflood 3")
    said = await group.say(BOSS, "/setflood off")
    assert said.keys == ["moderation.flood.off"]
    for n in range(10):
        await group.say(ANN, f"{n}")
    assert chat.actions == []


@pytest.mark.parametrize(("typed", "call", "kept_as", "words"), [
    ("ban", ("ban", ANN.user_id, None), [("ban", None)], "banned until an admin lifts it"),
    ("ban 1d", ("ban", ANN.user_id, T0 + timedelta(days=1)),
     [("ban", T0 + timedelta(days=1))], "banned for 1 day"),
    ("tmute 2h", ("mute", ANN.user_id, T0 + timedelta(hours=2)),
     [("mute", T0 + timedelta(hours=2))], "muted for 2 hours"),
    ("mute 10s", ("mute", ANN.user_id, None), [("mute", None)],
     "muted for good (Telegram treats 10 seconds as permanent"),
    ("kick", ("kick", ANN.user_id), [], "removed from the group (they may join again)"),
])
async def test_each_flood_mode(db, group, chat, typed, call, kept_as, words):
    await settle(db, language="en", log_chat=LOG_ID)
    await group.say(BOSS, "/setflood 3")
    said = await group.say(BOSS, f"/setfloodmode {typed}")
    assert words in said.text
    for n in range(3):
        said = await group.say(ANN, f"spam {n}")
    assert chat.actions == [call]
    assert words in said.text
    assert await kept(db, ANN) == kept_as
    assert said.logged() == [f"Antiflood in Tea Lovers: @annlee (id {ANN.user_id}) is "
                             f"{said.text.split(' is ', 1)[1].rstrip('.')}."]


async def test_flood_settings_are_explained_in_chinese(db, group):
    said = await group.say(BOSS, "/setflood")
    assert said.keys == ["moderation.flood.off", "moderation.flood.usage"]
    assert "防刷屏已关闭" in said.text and "/setflood N" in said.text
    said = await group.say(BOSS, "/setfloodmode ban 3d")
    assert "将被封禁 3 天" in said.text
    said = await group.say(BOSS, "/setflood 4")
    assert said.text == ("防刷屏已开启：同一人在 10 秒内连续发送 4 条消息，将被封禁 3 天。"
                         "管理员不受限制。")
    for n in range(4):
        said = await group.say(ANN, f"{n}")
    assert said.text == "@annlee 连续发送消息过多，已被封禁 3 天。"


@pytest.mark.parametrize("typed", ["/setflood 2", "/setflood 101", "/setflood many",
                                   "/setfloodmode kick 1h", "/setfloodmode jail",
                                   "/setfloodmode mute soon", "/setfloodmode mute 1h 2h"])
async def test_wrong_settings_change_nothing(db, group, typed):
    said = await group.say(BOSS, typed)
    assert said.keys[0] in ("moderation.flood.usage", "moderation.flood.mode_usage",
                            "moderation.flood.bad_duration")
    async with db.uow() as uow:
        rules = await group_settings.read(uow, PLATFORM, TEA_ID)
    assert (rules.flood_limit, rules.flood_mode) == (0, "mute")


async def test_only_admins_set_the_flood_limit(db, group):
    said = await group.say(ANN, "/setflood 3")
    assert said.keys == ["moderation.not_admin"]
    async with db.uow() as uow:
        assert (await group_settings.read(uow, PLATFORM, TEA_ID)).flood_limit == 0


@pytest.mark.parametrize(("typed", "stored"), [
    ("mute", ("mute", None)), ("ban 90m", ("ban", 5400)), ("tmute 1d1m", ("mute", 86460)),
    ("mute 3000d", ("mute", 3000 * 86400)),
])
async def test_the_mode_and_its_length_are_kept_as_typed(db, group, typed, stored):
    await group.say(BOSS, f"/setfloodmode {typed}")
    async with db.uow() as uow:
        rules = await group_settings.read(uow, PLATFORM, TEA_ID)
    assert (rules.flood_mode, rules.flood_for_s) == stored
