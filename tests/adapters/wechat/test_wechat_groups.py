"""WeChat member groups, end to end: the programme file's `[[wechat.groups]]` with their
join pictures beside it, checked when the file is read, brought into the gates at
start, and the picture sent to a qualifying member who asks /groups over real
wechatpy-signed callbacks."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest
import segno
from sqlalchemy import select, update

from bot import programme as programme_file
from bot.wechat import groups
from domain import config
from domain.community import gates
from domain.community.tables import Gate, Seat
from domain.members.tables import Identity, Member
from tests.support.fake_wechat import Bot, FakeWeChat, settled

EXAMPLE = config.DEFAULT_FILE.read_text(encoding="utf-8")


def picture(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text).save(out, kind="png", scale=4)
    return out.getvalue()


def section(code: str = "gold-club", tier: str = "gold", image: str = "gold.png",
            extra: str = "") -> str:
    return (f'\n[[wechat.groups]]\ncode = "{code}"\ntitle = "Gold tea club"\n'
            f'tier = "{tier}"\nimage = "{image}"\n{extra}')


def written(folder: Path, *sections: str) -> Path:
    file = folder / "programme.toml"
    file.write_text(EXAMPLE + "".join(sections), encoding="utf-8")
    return file


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


# ------------------------------------------------------------------ reading the file

def test_a_group_and_its_picture_beside_the_file_are_read(tmp_path):
    (tmp_path / "gold.png").write_bytes(picture("club"))
    loaded = programme_file.load(written(tmp_path, section(extra='grace = "12h"\n')))
    [(group, image)] = groups.read(loaded, programme_file.folder(tmp_path / "programme.toml"))
    assert (group.code, group.title, group.tier, group.grace) == (
        "gold-club", "Gold tea club", "gold", "12h")
    assert image == picture("club")


@pytest.mark.parametrize("sections, named", [
    ((section(tier="diamond"),), "wechat group gold-club: 'diamond' is not a tier"),
    ((section(), section()), "each group needs its own code; given twice: gold-club"),
    ((section(extra='grace = "soon"\n'),), "'soon' is not a duration"),
    ((section(code="Gold Club"),), "wechat.groups.0.code"),
])
def test_a_group_the_file_cannot_use_is_named(tmp_path, sections, named):
    (tmp_path / "gold.png").write_bytes(picture("club"))
    with pytest.raises(config.ConfigError) as refused:
        programme_file.load(written(tmp_path, *sections))
    assert named in str(refused.value)


@pytest.mark.parametrize("content, named", [
    (None, "wechat.groups.0.image: cannot read"),
    (b"not a picture", "is not a PNG, JPEG or GIF picture"),
    (b"\x89PNG" + bytes(3 * 1024 * 1024), "WeChat takes pictures of at most 2,097,152"),
])
def test_a_picture_that_cannot_be_sent_is_named_when_the_file_is_read(tmp_path, content,
                                                                       named):
    if content is not None:
        (tmp_path / "gold.png").write_bytes(content)
    with pytest.raises(config.ConfigError) as refused:
        programme_file.load(written(tmp_path, section()))
    assert named in str(refused.value) and "gold.png" in str(refused.value)


# ------------------------------------------------------------------ over WeChat

async def set_tier(db, openid: str, tier: str) -> None:
    async with db.uow() as uow:
        member_id = await uow.session.scalar(select(Identity.member_id).where(
            Identity.platform == "wechat", Identity.external_id == openid))
        await uow.session.execute(update(Member).where(Member.id == member_id)
                                  .values(tier=tier))
        await uow.commit()


async def test_groups_sends_the_picture_to_a_member_who_qualifies(db, fake, tmp_path):
    (tmp_path / "gold.png").write_bytes(picture("the gold club"))
    loaded = programme_file.load(written(tmp_path, section()))
    await groups.keep(db, loaded, tmp_path, "wechat")
    await groups.keep(db, loaded, tmp_path, "wechat")  # a second worker starting: no change
    async with db.uow() as uow:
        [gate] = await gates.on_platform(uow, "wechat")
        assert (gate.kind, gate.chat_id, gate.min_tier) == ("qr", "gold-club", "gold")
    async with Bot(db, loaded, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oGold", "/start", 1)
        await bot.server.say(http, "oPlain", "/start", 2)
        await settled(bot)
        await set_tier(db, "oGold", "gold")
        plain = await bot.server.say(http, "oPlain", "/groups", 3)
        await settled(bot)
        assert plain is not None and "🔒" in plain and fake.images() == []
        text = await bot.server.say(http, "oGold", "/groups", 4)
        await settled(bot)
    assert text is not None and "Gold tea club" in text
    assert fake.images() == [picture("the gold club")]
    async with db.uow() as uow:
        seated = (await uow.session.execute(
            select(Seat.user_id, Seat.status).join(Gate, Gate.id == Seat.gate_id))).all()
    assert [tuple(row) for row in seated] == [("oGold", "in")]
