"""/invite on WeChat: the member's own QR scene code as an image, end to end.

Real wechatpy signs and encrypts the callbacks; the fake WeChat API issues scene codes
and takes uploads. The image is read back pixel by pixel and compared with the QR
matrix segno makes for the url WeChat returned, so a test fails if the picture does
not carry the code a phone would scan.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import segno
import time_machine
from sqlalchemy import select

from bot.wechat.store import scenes
from bot.wechat.store.tables import SceneCode
from domain.members.tables import Identity, Member
from domain.points import ledger, purchases
from handlers.engine import i18n
from handlers.engine.render import dump, load, render
from handlers.engine.types import Reply, Scene, Text
from tests.support.fake_wechat import APP_ID, QRCODE, UPLOAD, Bot, FakeWeChat, message_xml, settled

CUSTOM = "/cgi-bin/message/custom/send"


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


def modules(png: bytes, count: int) -> list[list[bool]]:
    """The `count` x `count` QR modules drawn in a PNG (True = dark), located by the
    dark pixels' extent, so neither the scale nor the quiet zone is assumed."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, palette = 8, b"", None
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
        elif kind == b"PLTE":
            palette = [data[i:i + 3] for i in range(0, len(data), 3)]
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    assert depth in (1, 8) and colour in (0, 3), (depth, colour)
    stride = (width * depth + 7) // 8
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - 1] if i else 0
            up, corner = previous[i], previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 255
        rows.append(line)
        previous = line

    def dark(x: int, y: int) -> bool:
        value = ((rows[y][x // 8] >> (7 - x % 8)) & 1) if depth == 1 else rows[y][x]
        if colour == 3:
            assert palette is not None
            return sum(palette[value]) < 384
        return value < (1 if depth == 1 else 128)

    xs = [x for y in range(height) for x in range(width) if dark(x, y)]
    ys = [y for y in range(height) for x in range(width) if dark(x, y)]
    left, top = min(xs), min(ys)
    span = max(xs) - left + 1  # the finder patterns reach every edge of the symbol
    if span % count or max(ys) - top + 1 != span:
        return []
    size = span // count
    return [[dark(left + c * size + size // 2, top + r * size + size // 2)
             for c in range(count)] for r in range(count)]


def encodes(png: bytes, content: str) -> bool:
    wanted = [[bool(v) for v in row] for row in segno.make_qr(content, error="m").matrix]
    return modules(png, len(wanted)) == wanted


def scanned(fake: FakeWeChat, png: bytes) -> str:
    """What a phone gets from the picture: the scene of the code it shows."""
    matches = [scene for url, scene in fake.scenes.items() if encodes(png, url)]
    assert len(matches) == 1, matches
    return matches[0]


async def referral_code(db, openid: str) -> str:
    async with db.uow() as uow:
        return await uow.session.scalar(
            select(Member.referral_code).join(Identity, Identity.member_id == Member.id)
            .where(Identity.platform == "wechat", Identity.external_id == openid))


async def stored_code(db) -> scenes.Code:
    async with db.uow() as uow:
        scene = await uow.session.scalar(select(SceneCode.scene))
        code = await scenes.stored(uow, "wechat:" + APP_ID, scene)
    assert code is not None
    return code


def words(key: str, locale: str, **params) -> str:
    return i18n.translate(Text(key, params), locale)


async def invite(bot: Bot, http, openid: str, msg_id: int) -> str:
    text = await bot.server.say(http, openid, "/invite", msg_id)
    assert text is not None
    await settled(bot)
    return text


@pytest.mark.parametrize("safe", [True, False])
async def test_invite_shows_the_members_own_scene_code_as_an_image(db, programme, fake, safe):
    locale = programme.default_locale
    async with Bot(db, programme, fake, safe=safe) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oAnna", "/start", 1)
        text = await invite(bot, http, "oAnna", 2)
    code = await referral_code(db, "oAnna")
    [created] = fake.sent(QRCODE)
    assert created == {"expire_seconds": 2_592_000, "action_name": "QR_STR_SCENE",
                       "action_info": {"scene": {"scene_str": f"ref_{code}"}}}
    # The caption, not the "send /start" text, and until when the code works.
    assert f"ref_{code}" in text
    assert words("invite.scene", locale, code=code, referrer=200, referee=100, friends=0) \
        in text
    until = (datetime.now(UTC) + timedelta(days=30)).astimezone(programme.zone).date()
    assert words("wechat.scene_until", locale, until=until) in text
    [image] = fake.images()
    [url] = fake.scenes
    assert encodes(image, url) and scanned(fake, image) == f"ref_{code}"
    # Exactly what segno draws for that url, uploaded as a PNG.
    [upload] = fake.sent(UPLOAD)
    assert upload["content_type"] == "image/png"
    assert image.startswith(b"\x89PNG") and len(image) == upload["size"]
    assert fake.texts() == []  # the text was the passive reply


async def test_repeated_invites_and_other_workers_reuse_the_code_and_the_upload(db, programme,
                                                                                fake):
    async with Bot(db, programme, fake) as one, Bot(db, programme, fake) as two, \
            aiohttp.ClientSession() as http:
        await one.server.say(http, "oBen", "/start", 1)
        await invite(one, http, "oBen", 2)
        await invite(one, http, "oBen", 3)
        await invite(two, http, "oBen", 4)  # another worker, same database
    assert fake.count(QRCODE) == 1 and fake.count(UPLOAD) == 1
    media = [p["image"]["media_id"] for p in fake.sent(CUSTOM) if p["msgtype"] == "image"]
    assert len(media) == 3 and len(set(media)) == 1


async def test_a_code_is_renewed_a_week_before_it_expires(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oCai", "/start", 1)
        await invite(bot, http, "oCai", 2)
        first = await stored_code(db)
        with time_machine.travel(datetime.now(UTC) + timedelta(days=20), tick=True):
            await invite(bot, http, "oCai", 3)  # 10 days left: still the same code
            assert fake.count(QRCODE) == 1
        with time_machine.travel(datetime.now(UTC) + timedelta(days=24), tick=True):
            await invite(bot, http, "oCai", 4)  # 6 days left: a new one
        renewed = await stored_code(db)
    # WeChat keeps an upload 3 days: day 20 uploads the same picture again, day 24 the new one.
    assert fake.count(QRCODE) == 2 and fake.count(UPLOAD) == 3
    assert renewed.ticket != first.ticket and renewed.expires_at > first.expires_at
    images = fake.images()
    assert encodes(images[-1], renewed.url) and not encodes(images[-1], first.url)
    assert scanned(fake, images[-1]) == scanned(fake, images[0])  # same member, same scene


async def test_a_failed_renewal_keeps_showing_the_code_that_still_works(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oDai", "/start", 1)
        await invite(bot, http, "oDai", 2)
        fake.fail(QRCODE, 45009)
        with time_machine.travel(datetime.now(UTC) + timedelta(days=24), tick=True):
            text = await invite(bot, http, "oDai", 3)
    assert fake.count(QRCODE) == 1 and fake.errors[QRCODE] == []
    [url] = fake.scenes
    assert all(encodes(image, url) for image in fake.images()) and len(fake.images()) == 2
    assert words("wechat.scene_unavailable", programme.default_locale) not in text


@pytest.mark.parametrize("failure", ["qrcode quota", "upload quota", "qrcode down",
                                     "upload down"])
async def test_api_failures_fall_back_to_the_code_as_text_with_a_note(db, programme, fake,
                                                                     failure):
    locale = programme.default_locale
    path = QRCODE if failure.startswith("qrcode") else UPLOAD
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oEve", "/start", 1)
        if failure.endswith("quota"):
            fake.fail(path, 45009)  # reach max api daily quota limit
        else:
            fake.broken[path] = 1  # an HTML error page instead of JSON
        text = await invite(bot, http, "oEve", 2)
        code = await referral_code(db, "oEve")
        assert f"/start ref_{code}" in text
        assert words("invite.code", locale, code=code, referrer=200, referee=100,
                     friends=0) in text
        assert words("wechat.scene_unavailable", locale) in text
        assert fake.images() == [] and fake.texts() == []
        # Nothing is remembered of the failure: the next /invite shows the image.
        text = await invite(bot, http, "oEve", 3)
    assert words("wechat.scene_unavailable", locale) not in text
    [image] = fake.images()
    assert scanned(fake, image) == f"ref_{code}"


async def test_a_rejected_token_is_replaced_once_and_the_image_still_comes(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oFei", "/start", 1)
        await bot.server.say(http, "oFei", "/points", 2)
        fetches = fake.token_fetches
        fake.invalidate()  # 40001 on the next call
        await invite(bot, http, "oFei", 3)
    assert fake.token_fetches == fetches + 1
    assert len(fake.images()) == 1 and fake.count(QRCODE) == 1


async def test_a_slow_upload_answers_success_then_text_and_image_in_order(db, programme, fake):
    fake.delays[UPLOAD] = 0.6
    async with Bot(db, programme, fake, deadline=0.3) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oGao", "/start", 1)
        status, body = await bot.server.post(http, message_xml("oGao", content="/invite",
                                                                msg_id=2))
        assert (status, body) == (200, "success")
        await settled(bot)
    sent = fake.sent(CUSTOM)
    assert [p["msgtype"] for p in sent] == ["text", "image"]
    assert "ref_" in sent[0]["text"]["content"]
    assert scanned(fake, fake.images()[0]).startswith("ref_")


async def test_the_passive_reply_is_an_image_when_the_answer_starts_with_one(db, programme,
                                                                            fake):
    from handlers.engine.engine import Answer
    from handlers.engine.types import Rendered

    class Pictured:
        async def handle(self, inbound):
            return Answer("en", [], (Rendered("", image=segno_png("till-7")),), leased=True)

    async with Bot(db, programme, fake, engine=Pictured()) as bot, \
            aiohttp.ClientSession() as http:
        status, body = await bot.server.post(http, message_xml("oHan", content="x", msg_id=9))
        await settled(bot)
        kind, media_id = bot.server.open_message(body)
    assert status == 200 and kind == "image"
    assert encodes(fake.media[media_id], "till-7")
    assert fake.sent(CUSTOM) == []


async def test_coupon_qr_codes_are_images_on_wechat(db, programme, fake):
    from domain.rewards import coupons
    from domain.rewards.tables import Coupon

    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oIvy", "/start", 1)
        async with db.uow() as uow:
            member_id = (await uow.session.execute(select(Member.id))).scalar_one()
            for _ in range(2):
                await coupons.issue(uow, member_id, programme.reward("free_pot"), None,
                                    datetime.now(UTC))
            await uow.commit()
        text = await bot.server.say(http, "oIvy", "/coupons", 2)
        await settled(bot)
    async with db.uow() as uow:
        codes = list(await uow.session.scalars(select(Coupon.code).order_by(Coupon.id.desc())))
    assert text is not None and coupons.display(codes[0]) in text
    assert words("wechat.attachment_elsewhere", programme.default_locale) not in text
    images = fake.images()
    assert len(images) == 2
    assert [encodes(i, c) for i, c in zip(images, codes, strict=True)] == [True, True]
    # The second card's words come between the two images.
    assert [p["msgtype"] for p in fake.sent(CUSTOM)] == ["image", "text", "image"]
    assert coupons.display(codes[1]) in fake.texts()[0]


async def test_an_upload_wechat_has_dropped_is_forgotten_and_uploaded_again(db, programme,
                                                                            fake):
    from bot.wechat.store import service_window
    from handlers.engine.types import Rendered

    picture = Rendered("Your coupon", image=segno_png("coupon-1"))
    async with Bot(db, programme, fake) as bot:
        async with db.uow() as uow:
            await service_window.opened(uow, "wechat", "oJin", datetime.now(UTC), 48, 20)
            await uow.commit()
        assert (await bot.pusher.push("oJin", picture)).outcome == "sent"
        fake.drop_media()  # WeChat's three days are over early
        refused = await bot.pusher.push("oJin", picture)
        assert refused.outcome == "failed" and refused.errcode == 40007 and refused.retryable
        assert (await bot.pusher.push("oJin", picture)).outcome == "sent"
    assert fake.count(UPLOAD) == 2 and encodes(fake.images()[-1], "coupon-1")


def segno_png(content: str) -> bytes:
    import io
    buffer = io.BytesIO()
    segno.make_qr(content, error="m").save(buffer, kind="png", scale=4)
    return buffer.getvalue()


async def test_a_friend_who_scans_the_image_and_follows_credits_the_referrer(db, programme,
                                                                             fake):
    rules = programme.earning
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oKai", "/start", 1)
        await invite(bot, http, "oKai", 2)
        scene = scanned(fake, fake.images()[0])
        status, body = await bot.server.post(http, message_xml(
            "oFriend", event="subscribe", event_key=f"qrscene_{scene}"))
        assert status == 200 and bot.server.open_reply(body)
        await settled(bot)
    async with db.uow() as uow:
        rows = {code: (id_, by) for code, id_, by in await uow.session.execute(
            select(Member.referral_code, Member.id, Member.referred_by_id))}
    referrer, _ = rows.pop(scene.removeprefix("ref_"))
    [(friend, referred_by)] = rows.values()
    assert referred_by == referrer
    async with db.uow() as uow:
        bought = await purchases.record(uow, programme, friend,
                                        purchases.Order("F-1", 1_000, "CNY"), datetime.now(UTC))
        await uow.commit()
    async with db.uow() as uow:
        assert await ledger.balance_of(uow, referrer) == rules.referrer
        assert await ledger.balance_of(uow, friend) == bought.points + rules.referee


def test_a_recorded_answer_keeps_its_scene():
    reply = Reply("invite.code", {"code": "ABCD2345", "referrer": 1, "referee": 2,
                                  "friends": 0},
                  scene=Scene("ref_ABCD2345", Text("invite.scene", {
                      "code": "ABCD2345", "referrer": 1, "referee": 2, "friends": 0})))
    rendered = render(reply, "en")
    assert rendered.scene is not None and rendered.scene[0] == "ref_ABCD2345"
    assert "QR" in rendered.scene[1] and "QR" not in rendered.text
    assert load(dump(rendered)) == rendered


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_without_scene_codes_invite_is_the_code_as_text(db, programme, locale):
    from handlers.engine.types import Inbound
    from handlers.routers import build_engine

    engine = build_engine(db, programme)
    answer = await engine.handle(Inbound(platform="console", user_id="lin", chat_id="lin",
                                         text="/invite", locale=locale))
    [shown] = [m for m in answer.rendered() if m.key == "invite.code"]
    async with db.uow() as uow:
        code = await uow.session.scalar(select(Member.referral_code))
    assert shown.text == words("invite.code", locale, code=code, referrer=200, referee=100,
                               friends=0)
    # The scene rides along for platforms that can draw it; its caption is translated.
    assert shown.scene == (f"ref_{code}", words("invite.scene", locale, code=code,
                                                 referrer=200, referee=100, friends=0))


async def test_workers_racing_for_a_code_converge_on_one_and_renew_only_a_due_one(db):
    now, week = datetime(2026, 5, 1, tzinfo=UTC), timedelta(days=7)
    first = scenes.Code("T-1", "http://weixin.qq.com/q/1", now + timedelta(days=30))
    second = scenes.Code("T-2", "http://weixin.qq.com/q/2", now + timedelta(days=30))
    for code in (first, second):  # two workers that both asked WeChat
        async with db.uow() as uow:
            kept = await scenes.keep(uow, "wechat:x", "ref_A", code, now, week)
            await uow.commit()
        assert kept == first
    later = now + timedelta(days=24)  # the stored code is due now
    third = scenes.Code("T-3", "http://weixin.qq.com/q/3", later + timedelta(days=30))
    async with db.uow() as uow:
        assert await scenes.keep(uow, "wechat:x", "ref_A", third, later, week) == third
        assert await scenes.stored(uow, "wechat:x", "ref_B") is None
        await uow.commit()
