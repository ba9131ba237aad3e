"""A local stand-in for api.weixin.qq.com, and a stand-in for WeChat's servers posting
signed (and, in safe mode, encrypted) callbacks to our webhook with real wechatpy.

The fake is strict where WeChat is lenient: fetching a token invalidates every older
one at once, so workers that fetch on their own fail loudly instead of by luck, and an
image message naming a media id it never handed out is refused (40007).
It issues QR scene codes (qrcode/create) and takes image uploads (media/upload),
keeping what each url and media id stand for, so tests can "scan" a code and look at
an image that was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.web import serving

APP_ID, SECRET, TOKEN = "wx1234567890abcdef", "app-secret", "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_memberbot"
POSTS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send",
         "/cgi-bin/message/subscribe/bizsend", "/cgi-bin/menu/create",
         "/card/membercard/updateuser", "/card/membercard/activate",
         "/cgi-bin/qrcode/create")
QRCODE, UPLOAD = "/cgi-bin/qrcode/create", "/cgi-bin/media/upload"
SCENE_ACTIONS = {"QR_STR_SCENE": True, "QR_LIMIT_STR_SCENE": False}  # name -> temporary


class FakeWeChat:
    def __init__(self, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.token_fetches = 0
        self.valid: str | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, list[int]] = defaultdict(list)  # path -> errcodes to answer
        self.broken: dict[str, int] = defaultdict(int)  # path -> next calls answered HTTP 502
        self.delays: dict[str, float] = {}  # path -> seconds each call takes
        self.scenes: dict[str, str] = {}  # QR content (url) -> scene_str
        self.media: dict[str, bytes] = {}  # media id -> the uploaded bytes, ever
        self.dropped: set[str] = set()  # media ids WeChat no longer has
        self._serial = itertools.count(1)
        self.url = ""
        self.photos: dict[str, bytes] = {}  # name -> bytes served at PicUrl /mmbiz/<name>
        self.photo_fetches = 0

    def photo(self, name: str, content: bytes) -> str:
        """A photo a member sent: its PicUrl, which serves `content` without a token."""
        self.photos[name] = content
        return f"{self.url}/mmbiz/{name}"

    def fail(self, path: str, *codes: int) -> None:
        """Answer the next calls to `path` with these errcodes, in order."""
        self.errors[path].extend(codes)

    def invalidate(self) -> None:
        """As when someone resets the token elsewhere: the current one stops working."""
        self.valid = None

    def sent(self, path: str = "/cgi-bin/message/custom/send") -> list[dict[str, Any]]:
        return [payload for p, payload in self.calls if p == path]

    def texts(self) -> list[str]:
        return [p["text"]["content"] for p in self.sent() if p.get("msgtype") == "text"]

    def images(self) -> list[bytes]:
        """The images sent as customer-service messages, in order."""
        return [self.media[p["image"]["media_id"]] for p in self.sent()
                if p.get("msgtype") == "image"]

    def count(self, path: str) -> int:
        return len(self.sent(path))

    def scan(self, url: str) -> str:
        """The scene a member's phone reports after scanning a QR code of `url`."""
        return self.scenes[url]

    def drop_media(self) -> None:
        """As when WeChat's three days are over: every media id stops working."""
        self.dropped.update(self.media)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/cgi-bin/token", self._token)
        for path in POSTS:
            app.router.add_post(path, self._post)
        app.router.add_post(UPLOAD, self._upload)
        app.router.add_get("/mmbiz/{name}", self._photo)
        return app

    async def _photo(self, request: web.Request) -> web.Response:
        self.photo_fetches += 1
        content = self.photos.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="image/jpeg")

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("appid") != APP_ID or q.get("secret") != SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.token_fetches += 1
        self.valid = f"token-{next(self._serial)}-{secrets.token_hex(4)}"
        return web.json_response({"access_token": self.valid, "expires_in": self.expires_in})

    async def _refusal(self, request: web.Request) -> web.Response | None:
        """What every API answers before looking at the body: delays, outages, token
        checks and queued errcodes."""
        if request.path in self.delays:
            await asyncio.sleep(self.delays[request.path])
        if self.broken[request.path]:
            self.broken[request.path] -= 1
            return web.Response(status=502, text="<html>bad gateway</html>")
        if self.valid is None or request.query.get("access_token") != self.valid:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        queued = self.errors[request.path]
        if queued:
            code = queued.pop(0)
            return web.json_response({"errcode": code, "errmsg": f"fake error {code}"})
        return None

    async def _post(self, request: web.Request) -> web.Response:
        refused = await self._refusal(request)
        if refused is not None:
            return refused
        payload = await request.json()
        if request.path == QRCODE:
            return self._qrcode(payload)
        if payload.get("msgtype") == "image" and \
                payload.get("image", {}).get("media_id") not in self.media.keys() - self.dropped:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        self.calls.append((request.path, payload))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _qrcode(self, payload: dict[str, Any]) -> web.Response:
        temporary = SCENE_ACTIONS.get(payload.get("action_name", ""))
        scene = payload.get("action_info", {}).get("scene", {}).get("scene_str")
        seconds = payload.get("expire_seconds", 60)
        if temporary is None or not isinstance(scene, str) or not 1 <= len(scene) <= 64 \
                or (temporary and not (isinstance(seconds, int) and 0 < seconds <= 2_592_000)):
            return web.json_response({"errcode": 40053, "errmsg": "invalid action info"})
        self.calls.append((QRCODE, payload))
        url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
        self.scenes[url] = scene
        answer: dict[str, Any] = {"ticket": secrets.token_urlsafe(48), "url": url}
        if temporary:
            answer["expire_seconds"] = seconds
        return web.json_response(answer)

    async def _upload(self, request: web.Request) -> web.Response:
        refused = await self._refusal(request)
        if refused is not None:
            return refused
        if request.query.get("type") != "image":
            return web.json_response({"errcode": 40004, "errmsg": "invalid media type"})
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField) or not media.filename:
            return web.json_response({"errcode": 41005, "errmsg": "media data missing"})
        content = media.file.read()
        if not content or len(content) > 2 * 1024 * 1024:
            return web.json_response({"errcode": 40009, "errmsg": "invalid image size"})
        media_id = f"media-{next(self._serial)}-{secrets.token_hex(6)}"
        self.media[media_id] = content
        self.calls.append((UPLOAD, {"media_id": media_id, "filename": media.filename,
                                    "content_type": media.content_type,
                                    "size": len(content)}))
        return web.json_response({"type": "image", "media_id": media_id,
                                  "created_at": int(time.time())})

    async def __aenter__(self) -> FakeWeChat:
        self._serving = serving(self.app(), "127.0.0.1", 0)
        port = await self._serving.__aenter__()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._serving.__aexit__(None, None, None)


def signed_query(token: str = TOKEN, timestamp: int | None = None,
                 nonce: str | None = None) -> dict[str, str]:
    timestamp_s = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(6)
    signer = WeChatSigner()
    signer.add_data(token, timestamp_s, nonce)
    return {"timestamp": timestamp_s, "nonce": nonce, "signature": signer.signature}


def message_xml(openid: str, *, content: str | None = None, msg_id: int | None = None,
                msg_type: str = "text", event: str | None = None, event_key: str | None = None,
                created: int | None = None, extra: dict[str, str] | None = None) -> str:
    parts = {"ToUserName": ACCOUNT, "FromUserName": openid,
             "CreateTime": str(created or int(time.time())),
             "MsgType": "event" if event else msg_type}
    if content is not None:
        parts["Content"] = content
    if event:
        parts["Event"] = event
    if event_key is not None:
        parts["EventKey"] = event_key
    if msg_id is not None:
        parts["MsgId"] = str(msg_id)
    parts.update(extra or {})
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in parts.items())
    return f"<xml>{body}</xml>"


class WeChatServer:
    """Posts callbacks the way WeChat does, and reads our replies back with wechatpy."""

    def __init__(self, url: str, safe: bool = True) -> None:
        self.url = url
        self.safe = safe
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

    async def post(self, session: aiohttp.ClientSession, xml: str,
                   query: dict[str, str] | None = None) -> tuple[int, str]:
        query = dict(query or signed_query())
        body = xml
        if self.safe:
            body = self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
            query["encrypt_type"] = "aes"
            query["msg_signature"] = _field(body, "MsgSignature")
        async with session.post(f"{self.url}/wechat", params=query,
                                data=body.encode()) as resp:
            return resp.status, await resp.text()

    def open_reply(self, text: str) -> str | None:
        """The Content of a passive text reply (decrypted and signature-checked), or
        None when the answer was 'success'."""
        opened = self.open_message(text)
        if opened is None:
            return None
        kind, value = opened
        assert kind == "text", f"a passive {kind} reply, not text"
        return value

    def open_message(self, text: str) -> tuple[str, str] | None:
        """A passive reply as ("text", content) or ("image", media id); None for
        'success'."""
        if text == "success":
            return None
        xml = text
        if self.safe:
            xml = self.crypto.decrypt_message(text, _field(text, "MsgSignature"),
                                              _field(text, "TimeStamp"), _field(text, "Nonce"))
        import xmltodict  # wechatpy parses what members send; replies nest differently
        reply = xmltodict.parse(xml)["xml"]
        if reply["MsgType"] == "image":
            return "image", reply["Image"]["MediaId"]
        assert reply["MsgType"] == "text", reply
        return "text", reply["Content"]

    async def say(self, session: aiohttp.ClientSession, openid: str, content: str,
                  msg_id: int) -> str | None:
        status, text = await self.post(session, message_xml(openid, content=content,
                                                            msg_id=msg_id))
        assert status == 200, text
        return self.open_reply(text)

    async def post_raw_encrypted(self, inner: str) -> tuple[int, str]:
        """Encrypt any text (not necessarily a message) exactly as WeChat would."""
        query = signed_query()
        body = self.crypto.encrypt_message(inner, query["nonce"], query["timestamp"])
        query.update(encrypt_type="aes", msg_signature=_field(body, "MsgSignature"))
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.url}/wechat", params=query, data=body.encode()) as resp:
            return resp.status, await resp.text()


def _field(xml: str, name: str) -> str:
    start = xml.index(f"<{name}>") + len(name) + 2
    value = xml[start:xml.index(f"</{name}>")]
    return value.removeprefix("<![CDATA[").removesuffix("]]>")


class Bot:
    """Our real aiohttp app with the WeChat routes, wired to a FakeWeChat API."""

    def __init__(self, db, programme, fake: FakeWeChat, *, safe: bool = True,
                 deadline: float = 4.0, engine=None, max_age: int = 300,
                 clock=None) -> None:
        self.db, self.programme, self.fake = db, programme, fake
        self.safe, self.deadline, self.engine, self.max_age = safe, deadline, engine, max_age
        self.clock = clock

    async def __aenter__(self) -> Bot:
        from datetime import UTC, datetime

        from bot import web as bot_web
        from bot.pipeline import Pipeline
        from bot.wechat.api import Api, fetcher
        from bot.wechat.cards import Cards
        from bot.wechat.envelope import Envelope
        from bot.wechat.media import Media
        from bot.wechat.pictures import Pictures
        from bot.wechat.push import Pusher
        from bot.wechat.scenes import SceneCodes
        from bot.wechat.tokens import DatabaseTokens
        from bot.wechat.webhook import Webhook
        from handlers.routers import build_engine

        self.session = aiohttp.ClientSession()
        clock = self.clock or (lambda: datetime.now(UTC))
        self.tokens = DatabaseTokens(self.db, f"wechat:{APP_ID}",
                                     fetcher(self.session, self.fake.url, APP_ID, SECRET, clock))
        self.api = Api(self.session, self.fake.url, self.tokens)
        config = self.programme.wechat
        name = f"wechat:{APP_ID}"
        self.pictures = Pictures(SceneCodes(self.db, self.api, name),
                                 Media(self.db, self.api, name), self.programme.zone)
        self.pusher = Pusher(self.db, self.api, config, self.programme.default_locale,
                             pictures=self.pictures)
        self.cards = Cards(self.db, self.api, self.programme) if config.card_id else None
        engine = self.engine or build_engine(self.db, self.programme, clock=clock)
        self.pipeline = Pipeline(self.db, engine, "wechat", clock=clock)
        self.webhook = Webhook(Envelope(TOKEN, APP_ID, AES_KEY if self.safe else None,
                                        self.max_age),
                               self.pipeline, self.db, self.pusher, config, self.cards,
                               deadline=self.deadline, clock=clock, pictures=self.pictures)
        app = bot_web.build(self.db)
        app.router.add_get("/wechat", self.webhook.verify)
        app.router.add_post("/wechat", self.webhook.receive)
        self._serving = bot_web.serving(app, "127.0.0.1", 0)
        port = await self._serving.__aenter__()
        self.url = f"http://127.0.0.1:{port}"
        self.server = WeChatServer(self.url, self.safe)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.webhook.drain(grace=2)
        await self._serving.__aexit__(None, None, None)
        await self.session.close()

    async def crash(self) -> None:
        """As `kill -9` at this instant: nothing this bot does from now on reaches the
        database (the next write fails, like a dead process's), its tasks stop, and
        requests still open get no reply. Leave the `async with` block afterwards."""
        for holder in (self.webhook, self.pipeline, getattr(self.pipeline.engine, "engine",
                                                            self.pipeline.engine)):
            if hasattr(holder, "db"):
                holder.db = _Dead()
        for task in list(self.webhook.tasks):
            task.cancel()


class _Dead:
    """The database as seen from a killed process."""

    dialect = "sqlite"

    def uow(self):
        raise ConnectionError("this bot has crashed")



async def settled(bot: Bot) -> None:
    """Wait until the webhook has sent everything it started (answers after a slow
    reply, images after their text)."""
    for _ in range(500):
        if not bot.webhook.tasks:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the webhook is still sending")
