"""WeChat message fields -> what memberbot should do with them.

Texts, menu CLICKs and QR-code follows become an Inbound for the engine: a CLICK
key is the command it stands for ("/points"), and a scene `ref_CODE` or `link_CODE`
becomes `/start ref_CODE`. A photo (MsgType image) carries its MediaId and PicUrl as
the Inbound's picture, for the support inbox; other media get the engine's answer to
an empty text. A text of only
spaces and a CLICK whose key is no command (a menu pushed by an older programme
file) carry an aside, said with the answer (bot/wechat/asides.py). Unfollowing
marks the member unreachable; card events link a member card; the rest (VIEW,
LOCATION reports, delivery receipts) need no answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from bot.wechat.asides import BLANK, STALE_MENU, Aside
from bot.wechat.envelope import Refused
from bot.wechat.menu import CARD
from handlers.engine.types import Inbound, PictureRef

PLATFORM = "wechat"
Kind = Literal["inbound", "unsubscribe", "card", "ignore"]
# Member actions after which WeChat lets us send customer-service messages.
OPENS_WINDOW = {"text", "image", "voice", "video", "shortvideo", "location", "link",
                "subscribe", "scan", "click"}
SCENES = ("ref_", "link_")
CARD_EVENTS = {"user_get_card", "submit_membercard_user_info"}


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    key: str  # what WeChat's retries share and other messages do not: see delivery_key
    openid: str
    account: str  # our Official Account's id, the sender of replies
    opens_window: bool
    inbound: Inbound | None = None
    card: tuple[str, str, bool] | None = None  # (card id, code, needs activating)
    aside: Aside | None = None  # what WeChat adds to the engine's answer


def read(fields: dict[str, str]) -> Incoming:
    openid, account = fields.get("FromUserName", ""), fields.get("ToUserName", "")
    created, msg_type = fields.get("CreateTime", ""), fields.get("MsgType", "").lower()
    if not _plain(openid) or not _plain(account) or not msg_type:
        raise Refused(400, "FromUserName, ToUserName and MsgType are required")
    if not created.isascii() or not created.isdigit() or len(created) > 12:
        raise Refused(400, "CreateTime must be a number")
    event, event_key = fields.get("Event", ""), fields.get("EventKey", "")
    key = delivery_key(fields)
    what = event.lower() if msg_type == "event" else msg_type
    base = {"key": key, "openid": openid, "account": account,
            "opens_window": what in OPENS_WINDOW}
    if msg_type == "text":
        content = fields.get("Content", "")
        # Spaces alone (U+3000 too) reach the engine as an empty text, as a picture does.
        return Incoming("inbound", inbound=_inbound(openid, key, content),
                        aside=None if content.strip() else BLANK, **base)
    if msg_type == "image":
        return Incoming("inbound", inbound=_inbound(openid, key, "", _picture(fields)),
                        **base)
    if msg_type != "event":
        return Incoming("inbound", inbound=_inbound(openid, key, ""), **base)  # text only
    if what == "subscribe":
        scene = event_key.removeprefix("qrscene_")
        text = f"/start {scene}" if scene.startswith(SCENES) and _plain(scene) else "/start"
        return Incoming("inbound", inbound=_inbound(openid, key, text), **base)
    if what == "scan" and event_key.startswith(SCENES) and _plain(event_key):
        return Incoming("inbound", inbound=_inbound(openid, key, f"/start {event_key}"), **base)
    if what == "click" and event_key.startswith("/"):
        return Incoming("inbound", inbound=_inbound(openid, key, event_key), **base)
    if what == "click":  # a key of some older menu: the home card, saying so
        return Incoming("inbound", inbound=_inbound(openid, key, CARD), aside=STALE_MENU,
                        **base)
    if what == "unsubscribe":
        return Incoming("unsubscribe", **base)
    if what in CARD_EVENTS and _plain(fields.get("CardId", "")) \
            and _plain(fields.get("UserCardCode", "")):
        return Incoming("card", card=(fields["CardId"], fields["UserCardCode"],
                                      what == "submit_membercard_user_info"), **base)
    return Incoming("ignore", **base)


def delivery_key(fields: dict[str, str]) -> str:
    """The inbox key of a message: (sender, MsgId) for messages, since MsgIds are only
    WeChat's own numbering and another member's message may carry a seen one; for
    events, which have no MsgId, sender + time + event + a digest of the event and its
    EventKey, so two menu CLICKs in one second stay two. Spaces separate the parts (an
    openid has none), and the digest keeps the key within the inbox's 128 characters.
    domain/storage/migrations/versions/0010 rekeys recorded deliveries with this same rule."""
    openid, msg_id = fields.get("FromUserName", ""), fields.get("MsgId", "")
    if msg_id.isascii() and msg_id.isdigit() and len(msg_id) <= 32:
        return f"{openid} {msg_id}"
    event = fields.get("Event", "")
    what = "\n".join((fields.get("MsgType", ""), event, fields.get("EventKey", "")))
    digest = hashlib.blake2b(what.encode(), digest_size=8).hexdigest()
    return f"{openid} {fields.get('CreateTime', '')} {event[:32]} {digest}"


def _inbound(openid: str, key: str, text: str, picture: PictureRef | None = None) -> Inbound:
    return Inbound(platform=PLATFORM, user_id=openid, chat_id=openid, text=text, key=key,
                   documents=False, picture=picture)


def _picture(fields: dict[str, str]) -> PictureRef | None:
    """A photo by WeChat's references: MediaId (media/get, kept 3 days) and PicUrl
    (a plain link to the image). The domain checks both (domain/support/pictures.py),
    so a made-up one is refused there in our words."""
    media_id, url = fields.get("MediaId", "").strip(), fields.get("PicUrl", "").strip()
    if not media_id and not url:
        return None
    return PictureRef(PLATFORM, media_id or url[-255:], url=url or None)


def _plain(value: str) -> bool:
    """Ids and codes: short printable ASCII without spaces."""
    return 0 < len(value) <= 64 and value.isascii() and value.isprintable() and " " not in value
