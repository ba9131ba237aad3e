"""Photos in support conversations are kept by reference: a member's photo (with or
without words) is kept on its message and named by id in the staff chat's post; a
staff member's photo names the message in the member's notice; a photo too big or
not a usable reference is refused before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain.support import conversations as support
from domain.support import pictures, staff_chat
from domain.support.pictures import Picture, PictureRefused
from domain.support.tables import SupportMessage, SupportPost
from tests.domain.support.test_conversations import NOW, notices_of, opened, people

PHOTO = Picture("telegram", "AgACAgIAAxkBAAIB", 120_000)


async def messages(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(SupportMessage))


async def test_a_members_photo_is_kept_and_posted_by_reference(db, programme):
    _, alice = await people(db, programme)
    async with db.uow() as uow:
        await staff_chat.set_chat(uow, (await people_owner(uow)), "telegram", "-100", NOW)
        await uow.commit()
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        member = await support.members.get(uow, alice)
        bare = await support.member_says(uow, programme, member, "  ", NOW, picture=PHOTO)
        worded = await support.member_says(uow, programme, member, "The receipt", NOW,
                                           picture=Picture("wechat", "MEDIA1", None,
                                                           "https://mmbiz.qpic.cn/x/0"))
        await uow.commit()
    async with db.uow() as uow:
        assert await pictures.find(uow, bare.id) == PHOTO
        assert await pictures.find(uow, worded.id, cid) == Picture(
            "wechat", "MEDIA1", None, "https://mmbiz.qpic.cn/x/0")
        assert await pictures.find(uow, worded.id, cid + 1) is None
        posts = [(p.key, p.params.get("picture"), p.params["text"]) for p in
                 await uow.session.scalars(select(SupportPost).order_by(SupportPost.id))
                 if p.key not in staff_chat.TOPIC_STEPS]
    assert posts == [
        ("support.staff.member_photo", bare.id, ""),
        ("support.staff.member_photo", worded.id, "The receipt")]


async def people_owner(uow) -> int:
    from domain.members import members
    found = await members.by_identity(uow, "telegram", "boss")
    return found.id


@pytest.mark.parametrize("picture,code", [
    (Picture("telegram", "BIG", pictures.MAX_BYTES + 1), "photo_too_big"),
    (Picture("no such platform", "X1"), "photo_unknown"),
    (Picture("telegram", ""), "photo_unknown"),
    (Picture("wechat", "M1", None, "file:///etc/passwd"), "photo_unknown"),
])
async def test_a_bad_photo_is_refused_and_nothing_changes(db, programme, picture, code):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    for act in ("member", "staff"):
        async with db.uow() as uow:
            with pytest.raises(PictureRefused) as refused:
                if act == "member":
                    member = await support.members.get(uow, alice)
                    await support.member_says(uow, programme, member, "look", NOW,
                                              picture=picture)
                else:
                    await support.reply(uow, programme, boss, cid, "look", NOW,
                                        picture=picture)
            assert refused.value.code == code
    assert await messages(db) == 0
    assert [k for k, _ in await notices_of(db, alice)] == []


async def test_a_staff_photo_names_its_message_in_the_members_notice(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        done = await support.reply(uow, programme, boss, cid, "", NOW, picture=PHOTO)
        await uow.commit()
    (notice,) = [n for n in await notices_of(db, alice) if n[0].startswith("support.reply")]
    assert notice == ("support.reply_photo", {"conversation": cid, "text": "",
                                              "picture": done.message.id})
    async with db.uow() as uow:
        assert await pictures.find(uow, done.message.id) == PHOTO
    async with db.uow() as uow:  # no photo and no words: nothing to send
        with pytest.raises(support.SupportRefused):
            await support.reply(uow, programme, boss, cid, " ", NOW)
