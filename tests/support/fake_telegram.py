"""A local Telegram Bot API server for tests and benchmarks.

The real aiogram and python-telegram-bot clients talk to it over HTTP exactly as they talk
to api.telegram.org, so adapter tests exercise the real SDKs, their request encoding and
their error handling. It runs in the caller's event loop and needs nothing from pytest::

    async with FakeBotAPI() as api:            # api.root == "http://127.0.0.1:PORT"
        bot = aiogram.Bot(api.token, session=AiohttpSession(
            api=TelegramAPIServer.from_base(api.root)))
        # PTB: telegram.Bot(api.token, base_url=f"{api.root}/bot",
        #                   base_file_url=f"{api.root}/file/bot")
        api.message(42, "/start")              # an update for getUpdates
        await api.wait_for(1, method="sendMessage", chat_id=42)
        assert api.sent("sendMessage")[-1].params["text"] == "..."

`aiogram_bot(api)` and `ptb_bot(api)` are async context managers that give a connected
Bot of either library and close it afterwards.

What behaves like Telegram: URLs ``/bot{token}/{method}`` (method names case-insensitive),
401 for a wrong token, 404 for an unknown method, GET query strings, JSON, urlencoded and
multipart bodies (``attach://`` references resolved), JSON-valued form fields decoded,
the ``{"ok": ..., "result"|"error_code"/"description"/"parameters"}`` envelope with the
HTTP status equal to ``error_code``, long polling with offset confirmation, 409 while a
webhook is set or when a newer getUpdates supersedes a waiting one, HTML parse_mode
checked (unsupported or unbalanced tags are a 400), the 4096/1024 limits counted in UTF-16
units after entity parsing, "message is not modified", and flood control answering 429
with ``parameters.retry_after``.

Test controls: the update builders (:meth:`message`, :meth:`callback`, ...), ``calls`` and
:meth:`sent`, :meth:`wait_for`, ``blocked``, :meth:`fail_next`, :meth:`disconnect_next`,
:meth:`hang`/:meth:`release`, ``rate_limit``/``chat_limit``/``group_limit``,
:meth:`deliver_webhook`, and for gated chats :meth:`group` and :meth:`admin` (who
administers a chat, the bot included: by default it is a plain member).

Membership is kept as Telegram keeps it: approving a join request, banning and
unbanning change ``members`` and queue the ``chat_member`` update Telegram would send
(delivered only to a bot that asks for ``chat_member`` in ``allowed_updates``).

For moderation: :meth:`join` and :meth:`leave` (the service messages with
``new_chat_members`` / ``left_chat_member``), :meth:`album` (photos sharing a
``media_group_id``), :meth:`message` with ``reply_to`` and ``mentions`` (text_mention
entities), :meth:`callback` with a group's ``chat_id``; restrictChatMember and
banChatMember keep their ``until_date`` (``restricted_until``, ``banned_until``),
deleteMessage records ``deleted``, getChatAdministrators and getChatMemberCount read
the state above. With ``rights_checked`` on, banning, restricting and deleting need
the bot to be an admin with the right (off by default, as the gate tests predate it).
:meth:`message` with ``as_group`` is an anonymous admin's message, sent "as the group"
(from GroupAnonymousBot, with the group as ``sender_chat``).

Forum topics: createForumTopic keeps each topic's name in ``topics``; closeForumTopic
and reopenForumTopic keep ``closed_topics`` and editForumTopic the name, each answering
TOPIC_NOT_MODIFIED when nothing would change (closing a closed topic, the same name)
and TOPIC_ID_INVALID for a topic it never made or one deleted. :meth:`delete_topic`
(or deleteForumTopic) deletes one, as staff may in the app: sending into it then
answers "message thread not found". setMessageReaction keeps ``reactions``
{(chat, message id): [emoji]} and takes only the emoji Telegram lets bots use
(REACTION_INVALID otherwise).

Files: a photo a user sends (and one a bot uploads) is kept in ``files`` by file_id;
getFile gives its size and path, GET ``/file/bot{token}/{path}`` its content (each
download noted in ``downloads``), and a photo sent by a file_id Telegram does not hold
is refused ("wrong file identifier/HTTP URL specified").

Payments in Telegram Stars: createInvoiceLink checks Stars' rules (no provider token,
one price of 1-10,000, a subscription_period of 30 days only) and keeps each link's
parameters in ``invoices``; :meth:`pre_checkout` delivers a pre_checkout_query, whose
answer (answerPreCheckoutQuery) lands in ``checkout_answers``; :meth:`paid` delivers the
successful_payment service message (first payment or renewal); refundStarPayment and
editUserStarSubscription take only a charge that user paid, keeping ``refunded`` and
``star_renewals`` (a second refund is CHARGE_ALREADY_REFUNDED).

As with Telegram, only a message without reply_markup or with an inline keyboard can be
edited: one sent with a reply keyboard (or ReplyKeyboardRemove) answers "message can't
be edited"; ``reply_keyboards`` {chat: the last reply_markup of that kind} tells which
keyboard a chat shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import math
import re
import secrets
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

# Methods that do something visible; the rest only read. `sent()` lists the former.
READ_METHODS = frozenset({"getMe", "getUpdates", "getWebhookInfo", "getMyCommands",
                          "getChat", "getChatMember", "getChatAdministrators",
                          "getChatMemberCount", "getFile"})
# Methods that put a message in a chat: blocked chats and flood control apply to them.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText",
                          "editMessageReplyMarkup"})
# Update types Telegram leaves out when allowed_updates is empty.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
    "permissions", "link_preview_options", "reply_parameters", "media", "results", "options",
    "reaction", "prices",
})
INT_FIELDS = frozenset({
    "chat_id", "user_id", "message_id", "offset", "limit", "timeout", "until_date",
    "expire_date", "member_limit", "from_chat_id", "message_thread_id", "reply_to_message_id",
    "cache_time", "max_connections", "subscription_period",
})
BOOL_FIELDS = frozenset({
    "disable_notification", "protect_content", "allow_paid_broadcast", "drop_pending_updates",
    "creates_join_request", "revoke_messages", "only_if_banned", "show_alert",
    "use_independent_chat_permissions", "has_spoiler", "disable_content_type_detection",
    "is_big", "ok", "is_canceled",
})
# An administrator's rights, as getChatMember names them.
ADMIN_RIGHTS = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories", "can_post_messages", "can_edit_messages",
                "can_pin_messages", "can_manage_topics")
# What a restricted member may do; every flag is required of a ChatMemberRestricted.
RESTRICTED_FLAGS = ("can_send_messages", "can_send_audios", "can_send_documents",
                    "can_send_photos", "can_send_videos", "can_send_video_notes",
                    "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
                    "can_add_web_page_previews", "can_react_to_messages", "can_edit_tag",
                    "can_change_info", "can_invite_users", "can_pin_messages",
                    "can_manage_topics")
HTML_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                       "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji"})
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bytes a bot may download (getFile)
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                       "username": "GroupAnonymousBot"}
# The emoji a bot may react with (ReactionTypeEmoji); anything else is REACTION_INVALID.
BOT_REACTIONS = frozenset(
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 "
    "🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 "
    "💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷‍♂ 🤷 🤷‍♀ 😡".split())
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message")
_DEFAULT = object()


class ApiError(Exception):
    """An error answer: the HTTP status is `code`, as with Telegram."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


class _Dropped(Exception):
    """The connection was cut on purpose (disconnect_next)."""


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Call:
    """One request the server received. `status` is None while it is still being handled
    (for example held by :meth:`FakeBotAPI.hang`); uploaded files are in `files`, keyed
    by the parameter they were given for (``photo``, ``document``), not in `params`."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]]
    at: float  # the server clock when the request arrived
    status: int | None = None
    result: Any = None
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        """The text or caption as sent (still HTML when parse_mode was HTML)."""
        return self.params.get("text", self.params.get("caption"))


class _Bucket:
    """A token bucket: `capacity` tokens, refilled at `per_second`."""

    def __init__(self, capacity: float, per_second: float, now: float) -> None:
        self.capacity, self.per_second = capacity, per_second
        self.tokens, self.stamp = capacity, now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 if one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


@dataclass
class _Hang:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    perform: bool = True


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _int_or_str(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def parse_html(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Plain text and (tag, start, end) entities of Telegram-flavoured HTML, or a 400."""
    plain: list[str] = []
    entities: list[tuple[str, int, int]] = []
    stack: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "<":
            end = text.find(">", i)
            offset = len(text[:i].encode())
            if end < 0:
                raise _bad(f"can't parse entities: Can't find end of the tag starting at "
                           f"byte offset {offset}")
            tag = text[i + 1:end].strip()
            if tag.startswith("/"):
                name = tag[1:].strip().lower()
                if not stack or stack[-1][0] != name:
                    expected = stack[-1][0] if stack else ""
                    raise _bad(f'can\'t parse entities: Unmatched end tag at byte offset '
                               f'{offset}, expected "</{expected}>", found "</{name}>"')
                opened, start = stack.pop()
                entities.append((opened, start, len(plain)))
            else:
                name = tag.split()[0].lower() if tag else ""
                if name not in HTML_TAGS:
                    raise _bad(f'can\'t parse entities: Unsupported start tag "{name}" at '
                               f'byte offset {offset}')
                stack.append((name, len(plain)))
            i = end + 1
        elif c == "&" and (m := re.match(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);", text[i:])):
            plain.append(html.unescape(m.group()))
            i += len(m.group())
        else:
            plain.append(c)
            i += 1
    if stack:
        raise _bad(f'can\'t parse entities: Can\'t find end tag corresponding to start tag '
                   f'"{stack[-1][0]}"')
    return "".join(plain), entities


class FakeBotAPI:
    """The fake server. All state is plain attributes, so tests may read or set it:

    * ``calls`` every request received, in arrival order (see :class:`Call`);
    * ``offsets`` every getUpdates ``offset`` received (requests without one add nothing);
    * ``pending`` unconfirmed updates; ``messages`` {(chat_id, message_id): Message};
    * ``webhook`` {url, secret_token, allowed_updates, ...} or None;
    * ``commands`` {(scope JSON, language_code): [BotCommand]};
    * ``invite_links``, ``join_requests`` {(chat, user)}, ``members`` {chat: {user}},
      ``banned`` {(chat, user)}, ``restrictions`` {(chat, user): permissions} (a
      restriction granting every permission lifts it, as with Telegram),
      ``admins`` {chat: {user: rights}} and ``owners`` {chat: user} (the bot's id for
      the bot itself);
    * ``blocked`` chat ids whose sends answer 403 (``my_chat_member`` keeps it in step);
    * ``rate_limit`` sends/second over all chats (None: off), a token bucket holding one
      second's worth; ``chat_limit`` / ``group_limit`` (messages, seconds) per private /
      group chat (None: off). A send over a limit is not performed and answers 429;
    * counters ``performed`` (sends carried out) and ``too_many_requests`` (429s answered).
    """

    def __init__(self, token: str = "123456:TEST-token", username: str = "memberbot", *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "Memberbot",
                         "username": username}
        self.clock = clock
        self.root = ""
        self.calls: list[Call] = []
        self.offsets: list[int] = []
        self.pending: list[dict[str, Any]] = []
        self.messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self.chats: dict[Any, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.allowed_updates: list[str] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.invite_links: list[dict[str, Any]] = []
        self.join_requests: set[tuple[Any, int]] = set()
        # Payments in stars: links made by createInvoiceLink (link -> its parameters),
        # pre-checkout queries waiting and their answers (id -> (ok, error_message)),
        # charges paid by each user, refunded, and subscriptions whose renewal the bot
        # cancelled ((user, first charge id) -> is_canceled).
        self.invoices: dict[str, dict[str, Any]] = {}
        self._checkouts: set[str] = set()
        self.checkout_answers: dict[str, tuple[bool, str | None]] = {}
        self.charges: dict[str, int] = {}
        self.refunded: set[str] = set()
        self.star_renewals: dict[tuple[int, str], bool] = {}
        self.members: dict[Any, set[int]] = defaultdict(set)
        self.banned: set[tuple[Any, int]] = set()
        self.restrictions: dict[tuple[Any, int], dict[str, Any]] = {}
        self.restricted_until: dict[tuple[Any, int], int] = {}  # 0: for ever
        self.banned_until: dict[tuple[Any, int], int] = {}  # 0: for ever
        self.deleted: list[tuple[Any, int]] = []  # (chat, message id), in order
        self.topics: dict[tuple[Any, int], str] = {}  # (forum chat, thread id) -> name
        self.closed_topics: set[tuple[Any, int]] = set()
        self.deleted_topics: set[tuple[Any, int]] = set()
        self.reactions: dict[tuple[Any, int], list[str]] = {}  # the bot's, per message
        self.files: dict[str, bytes] = {}  # file_id -> content, for getFile and downloads
        self.downloads: list[str] = []  # file_ids whose content was downloaded, in order
        self._file_paths: dict[str, str] = {}  # file_path (getFile's) -> file_id
        self.rights_checked = False
        self.admins: dict[Any, dict[int, dict[str, bool]]] = defaultdict(dict)
        self.owners: dict[Any, int] = {}
        self.blocked: set[Any] = set()
        self.reply_keyboards: dict[Any, dict[str, Any]] = {}
        self.rate_limit: float | None = None
        self.chat_limit: tuple[int, float] | None = None
        self.group_limit: tuple[int, float] | None = None
        self.performed = 0
        self.too_many_requests = 0
        self._next_update_id = 1
        self._message_ids: dict[Any, int] = defaultdict(int)
        self._queries: set[str] = set()
        self._failures: dict[str, deque[ApiError | None]] = defaultdict(deque)
        self._hangs: dict[str, _Hang] = {}
        self._bucket: _Bucket | None = None
        self._bucket_rate: float | None = None
        self._chat_buckets: dict[Any, _Bucket] = {}
        self._updates_changed = asyncio.Event()
        self._activity = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        # Bot API method name -> the coroutine that performs it (`_sendMessage`, ...)
        self._handlers: dict[str, Callable[[dict[str, Any], Call], Awaitable[Any]]] = {
            name: getattr(self, f"_{name}") for name in _METHODS}
        self._by_lower = {name.lower(): name for name in self._handlers}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 at `port` (0: a free one); return the root URL."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        await web.SockSite(self._runner, sock).start()
        self.root = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.root

    async def stop(self) -> None:
        """Answer waiting long polls, drop hung calls, close everything."""
        self._closing = True
        self._wake_pollers()
        for method in list(self._hangs):
            self.release(method, perform=False)
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """The method base URL: ``{root}/bot{token}``."""
        return f"{self.root}/bot{self.token}"

    # ------------------------------------------------------------------ test controls

    def sent(self, method: str | None = None, chat_id: Any = None) -> list[Call]:
        """Calls that were performed (answered ok) by a method that acts, optionally of one
        method and to one chat (compared as strings, so 42 and "42" match)."""
        return [c for c in self.calls
                if c.ok and c.method not in READ_METHODS
                and (method is None or c.method == method)
                and (chat_id is None or str(c.chat_id) == str(chat_id))]

    async def wait_for(self, condition: int | Callable[[list[Call]], bool],
                       timeout: float = 10,  # noqa: ASYNC109 - a test helper's deadline
                       *, method: str | None = None,
                       chat_id: Any = None) -> list[Call]:
        """Wait until ``len(sent(method, chat_id)) >= condition`` (an int) or until
        ``condition(calls)`` is true (a callable, re-checked after every call and every
        50 ms, so it may look at other state too); return ``sent(method, chat_id)``.
        Raises AssertionError, listing the last calls, on timeout."""
        if isinstance(condition, int):
            count = condition

            def check() -> bool:
                return len(self.sent(method, chat_id)) >= count
        else:
            def check() -> bool:
                return bool(condition(self.calls))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(f"{c.method} {c.status} {c.params} {c.description}"
                                     for c in self.calls[-10:])
                raise AssertionError(
                    f"fake Telegram: condition {condition!r} (method={method}, "
                    f"chat_id={chat_id}) not met within {timeout} s; "
                    f"{len(self.calls)} calls, last ones:\n  {recent}")
            event = self._activity  # set by every call; the poll covers other state
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass
        return self.sent(method, chat_id)

    def fail_next(self, method: str, code: int, description: str,
                  retry_after: int | None = None) -> None:
        """Answer the next call of `method` with this error instead of performing it.
        Calls queue: two fail_next make the next two calls fail."""
        params = {"retry_after": retry_after} if retry_after is not None else None
        self._failures[method].append(ApiError(code, description, params))

    def disconnect_next(self, method: str) -> None:
        """Drop the connection of the next call of `method` without answering or
        performing it: the client sees a network error."""
        self._failures[method].append(None)

    def hang(self, method: str) -> None:
        """Hold calls of `method` (recorded, status None) until :meth:`release`."""
        self._hangs.setdefault(method, _Hang())

    def release(self, method: str, *, perform: bool = True) -> None:
        """Let held calls of `method` go on; with perform=False they are dropped unperformed
        (answered 500, which nobody reads when the client was killed)."""
        hang = self._hangs.pop(method, None)
        if hang is not None:
            hang.perform = perform
            hang.event.set()

    async def deliver_webhook(self, update: dict[str, Any], *,
                              secret: str | None | object = _DEFAULT) -> tuple[int, str]:
        """POST `update` to the webhook URL like Telegram does; return (status, body).
        The secret header is the one set with setWebhook unless `secret` overrides it
        (None omits the header). A 2xx answer confirms the update (it leaves `pending`)."""
        if self.webhook is None:
            raise AssertionError("fake Telegram: no webhook is set")
        token = self.webhook.get("secret_token") if secret is _DEFAULT else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        if self._client is None:
            self._client = ClientSession()
        async with self._client.post(self.webhook["url"], json=update,
                                     headers=headers) as resp:
            body = await resp.text()
        if 200 <= resp.status < 300:
            self.pending = [u for u in self.pending if u is not update
                            and u.get("update_id") != update.get("update_id")]
        return resp.status, body

    # ------------------------------------------------------------------ update builders

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update; an update_id is assigned unless present."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        if (query := update.get("callback_query")) is not None:
            self._queries.add(query["id"])
        if (request := update.get("chat_join_request")) is not None:
            self.join_requests.add((request["chat"]["id"], request["from"]["id"]))
        self.pending.append(update)
        self._wake_pollers()
        return update

    def user(self, user_id: int, *, first_name: str = "Test", username: str | None = None,
             language_code: str | None = "en", is_bot: bool = False) -> dict[str, Any]:
        """A Telegram User object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def message(self, user_id: int, text: str | None = None, *, chat_id: Any = None,
                chat_type: str = "private", language_code: str | None = "en",
                first_name: str = "Test", username: str | None = None, is_bot: bool = False,
                contact: str | dict[str, Any] | None = None, sticker: bool = False,
                voice: bool = False, topic: int | None = None, reply_to: int | None = None,
                mentions: dict[int, str] | None = None, photo: bool = False,
                media_group_id: str | None = None, as_group: bool = False,
                photo_size: int | None = None) -> dict[str, Any]:
        """A user's message. A leading /command gets its bot_command entity; `contact` is a
        phone number or a Contact dict (their own unless user_id says otherwise); `topic`
        is the forum topic (message_thread_id) it was written in, which makes a
        supergroup a forum. `reply_to`: the id of the message (in the same chat) it
        answers; `mentions`: {user id: the name as it stands in `text`}, each a
        text_mention entity; `photo`: a photo, `text` its caption, in album
        `media_group_id` if given (`photo_size`: its largest size's file_size, in
        bytes, after a small thumbnail); `as_group`: an anonymous admin of the group sent it
        "as the group" (`user_id` is not shown to anybody)."""
        sender = GROUP_ANONYMOUS_BOT if as_group else self.user(
            user_id, first_name=first_name, username=username, language_code=language_code,
            is_bot=is_bot)
        msg = self._user_message(sender, chat_id, chat_type)
        if as_group:
            msg["sender_chat"] = msg["chat"]
        if topic is not None:
            msg.update(message_thread_id=topic, is_topic_message=True)
            if chat_type == "supergroup":
                msg["chat"]["is_forum"] = True
        if reply_to is not None:
            answered = self.messages.get((msg["chat"]["id"], reply_to)) or {
                "message_id": reply_to, "date": int(time.time()), "chat": msg["chat"]}
            msg["reply_to_message"] = {k: v for k, v in _public(answered).items()
                                       if k != "reply_to_message"}
        field_, entities_ = ("caption", "caption_entities") if photo else ("text", "entities")
        if photo:
            msg["photo"] = [{"file_id": f"photo{msg['message_id']}", "file_unique_id":
                             f"p{msg['message_id']}", "width": 90, "height": 90}]
            if photo_size is not None:
                msg["photo"].insert(0, {"file_id": f"thumb{msg['message_id']}",
                                        "file_unique_id": f"t{msg['message_id']}",
                                        "width": 30, "height": 30, "file_size": 900})
                msg["photo"][-1]["file_size"] = photo_size
            for size in msg["photo"]:
                self.files[size["file_id"]] = photo_bytes(size["file_id"],
                                                          size.get("file_size", 1200))
            if media_group_id is not None:
                msg["media_group_id"] = media_group_id
        if text:
            msg[field_] = text
            entities = []
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                entities.append({"type": "bot_command", "offset": 0,
                                 "length": _utf16(command)})
            for mentioned, name in (mentions or {}).items():
                at = text.index(name)
                entities.append({"type": "text_mention", "offset": _utf16(text[:at]),
                                 "length": _utf16(name), "user": self.user(
                                     mentioned, first_name=name, language_code=None)})
            if entities:
                msg[entities_] = entities
        if contact is not None:
            msg["contact"] = (dict(contact) if isinstance(contact, dict) else
                              {"phone_number": contact, "first_name": first_name,
                               "user_id": user_id})
        if sticker:
            msg["sticker"] = {"file_id": f"sticker{msg['message_id']}", "file_unique_id":
                              f"s{msg['message_id']}", "type": "regular", "width": 512,
                              "height": 512, "is_animated": False, "is_video": False}
        if voice:
            msg["voice"] = {"file_id": f"voice{msg['message_id']}",
                            "file_unique_id": f"v{msg['message_id']}", "duration": 3}
        return self.push({"message": msg})

    def edited_message(self, user_id: int, text: str, message_id: int, *,
                       chat_id: Any = None, language_code: str | None = "en") -> dict[str, Any]:
        """The user edited their message `message_id` to `text`."""
        chat = user_id if chat_id is None else chat_id
        msg = _public(self.messages.get((chat, message_id)) or {
            "message_id": message_id, "date": int(time.time()), "chat": self._chat(chat)})
        msg.update(text=text, edit_date=int(time.time()),
                   **{"from": self.user(user_id, language_code=language_code)})
        self.messages[(chat, message_id)] = msg
        return self.push({"edited_message": msg})

    def channel_post(self, chat_id: Any, text: str, *, title: str = "Channel") -> dict[str, Any]:
        """A post in a channel the bot administers."""
        chat = self.chats.setdefault(chat_id, {"id": chat_id, "type": "channel", "title": title})
        msg = {"message_id": self._new_message_id(chat_id), "date": int(time.time()),
               "chat": chat, "sender_chat": chat, "text": text}
        self.messages[(chat_id, msg["message_id"])] = msg
        return self.push({"channel_post": msg})

    def callback(self, user_id: int, data: str, message_id: int, *,
                 language_code: str | None = "en", chat_id: Any = None) -> dict[str, Any]:
        """The user pressed a button whose callback_data is `data` under the bot's message
        `message_id` in their private chat (or `chat_id`)."""
        chat = user_id if chat_id is None else chat_id
        stored = self.messages.get((chat, message_id))
        msg = _public(stored) if stored else {
            "message_id": message_id, "date": int(time.time()), "chat": self._chat(chat),
            "from": self.bot_user}
        query = {"id": str(10**15 + self._next_update_id * 1000 + secrets.randbelow(1000)),
                 "from": self.user(user_id, language_code=language_code),
                 "chat_instance": str(abs(hash(chat)) % 10**12), "data": data,
                 "message": msg}
        return self.push({"callback_query": query})

    def pre_checkout(self, user_id: int, payload: str, total: int, *, currency: str = "XTR",
                     language_code: str | None = "en") -> dict[str, Any]:
        """The user is about to pay an invoice: the bot must answer within 10 seconds."""
        query = {"id": str(2 * 10**15 + self._next_update_id), "currency": currency,
                 "from": self.user(user_id, language_code=language_code),
                 "total_amount": total, "invoice_payload": payload}
        self._checkouts.add(query["id"])
        return self.push({"pre_checkout_query": query})

    def paid(self, user_id: int, payload: str, total: int, charge_id: str, *,
             expires: int | None = None, recurring: bool = True, first: bool = True,
             language_code: str | None = "en") -> dict[str, Any]:
        """The service message of a payment made (successful_payment); `expires` the end
        of the subscription period paid for (seconds since the epoch), for a renewal
        (`first` False) as for the first payment. The same charge id may be pushed again,
        as Telegram may deliver an update twice."""
        msg = self._user_message(self.user(user_id, language_code=language_code), None,
                                 "private")
        paid: dict[str, Any] = {"currency": "XTR", "total_amount": total,
                                "invoice_payload": payload,
                                "telegram_payment_charge_id": charge_id,
                                "provider_payment_charge_id": ""}
        if recurring:
            paid.update(subscription_expiration_date=expires or int(time.time()) + 2_592_000,
                        is_recurring=True)
            if first:
                paid["is_first_recurring"] = True
        msg["successful_payment"] = paid
        self.charges[charge_id] = user_id
        return self.push({"message": msg})

    def my_chat_member(self, user_id: int, status: str) -> dict[str, Any]:
        """The user blocked ("kicked") or unblocked ("member") the bot; keeps `blocked` in
        step, as Telegram would refuse sends to a user who blocked the bot."""
        old = "member" if status == "kicked" else "kicked"
        if status == "kicked":
            self.blocked.add(user_id)
        else:
            self.blocked.discard(user_id)
        return self.push({"my_chat_member": {
            "chat": self._chat(user_id), "from": self.user(user_id), "date": int(time.time()),
            "old_chat_member": self._member(old), "new_chat_member": self._member(status)}})

    def chat_join_request(self, user_id: int, chat_id: Any, *,
                          language_code: str | None = "en") -> dict[str, Any]:
        """The user asked to join `chat_id` (a group) through a join-request link."""
        chat = self.chats.setdefault(chat_id, {"id": chat_id, "type": "supergroup",
                                               "title": "Group"})
        if self.invite_links:  # as Telegram: a revoked link asks nobody to join
            asked = [link for link in self.invite_links
                     if link["chat_id"] == chat_id and not link["is_revoked"]]
            if asked:
                link = {k: v for k, v in asked[-1].items() if k != "chat_id"}
                return self.push({"chat_join_request": {
                    "chat": chat, "from": self.user(user_id, language_code=language_code),
                    "user_chat_id": user_id, "date": int(time.time()), "invite_link": link}})
        return self.push({"chat_join_request": {
            "chat": chat, "from": self.user(user_id, language_code=language_code),
            "user_chat_id": user_id, "date": int(time.time())}})

    def group(self, chat_id: Any, title: str = "Group", kind: str = "supergroup",
              forum: bool = False) -> dict:
        """A group, supergroup or channel the bot is in, so getChat knows it; `forum`:
        a supergroup with topics."""
        self.chats[chat_id] = {"id": chat_id, "type": kind, "title": title}
        if forum:
            self.chats[chat_id]["is_forum"] = True
        return self.chats[chat_id]

    def admin(self, chat_id: Any, user_id: int | None = None,
              rights: dict[str, bool] | None = None, *, owner: bool = False) -> None:
        """Make the bot (`user_id` None) or a user an administrator of the chat, with
        every right except those `rights` turns off, or its owner (creator)."""
        user_id = self.bot_id if user_id is None else user_id
        if owner:
            self.owners[chat_id] = user_id
        else:
            self.admins[chat_id][user_id] = {**dict.fromkeys(ADMIN_RIGHTS, True),
                                             **(rights or {})}
        if user_id != self.bot_id:
            self.members[chat_id].add(user_id)

    def delete_topic(self, chat_id: Any, thread: int) -> None:
        """Staff deleted the forum topic in the app: it is gone, its messages too."""
        self.topics.pop((chat_id, thread), None)
        self.closed_topics.discard((chat_id, thread))
        self.deleted_topics.add((chat_id, thread))

    def demote(self, chat_id: Any, user_id: int | None = None) -> None:
        """The bot (or a user) is a plain member of the chat again."""
        user_id = self.bot_id if user_id is None else user_id
        self.admins[chat_id].pop(user_id, None)
        if self.owners.get(chat_id) == user_id:
            del self.owners[chat_id]

    def chat_member(self, user_id: int, chat_id: Any, old: str, new: str, *,
                    by: int | None = None) -> dict[str, Any]:
        """A user's status in a group or channel changed from `old` to `new` (Telegram's
        words: member, restricted, administrator, creator, left, kicked); `by` did it
        (the user themselves if None). Keeps ``members`` and ``admins`` in step."""
        if new in ("member", "restricted", "administrator", "creator"):
            self.members[chat_id].add(user_id)
        else:
            self.members[chat_id].discard(user_id)
        if new == "administrator":
            self.admins[chat_id].setdefault(user_id, dict.fromkeys(ADMIN_RIGHTS, True))
        else:
            self.admins[chat_id].pop(user_id, None)
        return self._member_update(chat_id, user_id, old, new, by)

    def join(self, chat_id: Any, *user_ids: int, by: int | None = None,
             first_names: dict[int, str] | None = None,
             usernames: dict[int, str] | None = None) -> dict[str, Any]:
        """`user_ids` came into the group (added by `by`, or joined themselves): the
        service message with new_chat_members, and ``members`` in step. No
        chat_member update is queued; call :meth:`chat_member` for that."""
        names, handles = first_names or {}, usernames or {}
        newcomers = [self.user(u, first_name=names.get(u, "Test"), username=handles.get(u))
                     for u in user_ids]
        adder = self.user(by) if by is not None else newcomers[0]
        msg = self._user_message(adder, chat_id, self._group_type(chat_id))
        msg["new_chat_members"] = newcomers
        msg["new_chat_member"] = newcomers[0]
        msg["new_chat_participant"] = newcomers[0]
        self.members[chat_id].update(user_ids)
        return self.push({"message": msg})

    def leave(self, chat_id: Any, user_id: int, *, by: int | None = None) -> dict[str, Any]:
        """`user_id` left the group (or `by` took them out): the service message with
        left_chat_member, and ``members`` in step."""
        actor = self.bot_user if by == self.bot_id else self.user(by or user_id)
        msg = self._user_message(actor, chat_id, self._group_type(chat_id))
        msg["left_chat_member"] = self.user(user_id)
        msg["left_chat_participant"] = msg["left_chat_member"]
        self.members[chat_id].discard(user_id)
        return self.push({"message": msg})

    def album(self, user_id: int, chat_id: Any, photos: int, caption: str | None = None,
              **options: Any) -> list[dict[str, Any]]:
        """`photos` photo messages sent together as one album (a shared
        media_group_id), the first with `caption`: one update each, as Telegram sends."""
        group_id = str(10**17 + self._next_update_id)
        return [self.message(user_id, caption if i == 0 else None, chat_id=chat_id,
                             chat_type=self._group_type(chat_id), photo=True,
                             media_group_id=group_id, **options)
                for i in range(photos)]

    # ------------------------------------------------------------------ internals

    def _group_type(self, chat_id: Any) -> str:
        known = self.chats.get(chat_id)
        return known["type"] if known else self._chat(chat_id)["type"]

    def _may(self, chat_id: Any, right: str) -> None:
        """With rights_checked, the bot must be the owner or an admin holding `right`."""
        if not self.rights_checked or self.owners.get(chat_id) == self.bot_id:
            return
        if not self.admins.get(chat_id, {}).get(self.bot_id, {}).get(right):
            if right == "can_delete_messages":
                raise _bad("message can't be deleted")
            raise _bad("not enough rights to restrict/unrestrict chat member")

    def _member_update(self, chat_id: Any, user_id: int, old: str, new: str,
                       by: int | None) -> dict[str, Any]:
        actor = self.bot_user if by == self.bot_id else self.user(by or user_id)
        return self.push({"chat_member": {
            "chat": self._chat(chat_id), "from": actor, "date": int(time.time()),
            "old_chat_member": self._chat_member(chat_id, user_id, old),
            "new_chat_member": self._chat_member(chat_id, user_id, new)}})

    def _status(self, chat_id: Any, user_id: int) -> str:
        """A user's (or the bot's) status in the chat, from the state above."""
        if self.owners.get(chat_id) == user_id:
            return "creator"
        if user_id in self.admins.get(chat_id, {}):
            return "administrator"
        if (chat_id, user_id) in self.banned:
            return "kicked"
        if user_id == self.bot_id:
            return "member"
        if user_id in self.members.get(chat_id, ()):
            return "restricted" if (chat_id, user_id) in self.restrictions else "member"
        return "left"

    def _chat_member(self, chat_id: Any, user_id: int, status: str) -> dict[str, Any]:
        """A ChatMember object of `status`, with every field both libraries require."""
        user = self.bot_user if user_id == self.bot_id else self.user(user_id)
        member: dict[str, Any] = {"user": user, "status": status}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            rights = self.admins.get(chat_id, {}).get(user_id) or dict.fromkeys(ADMIN_RIGHTS,
                                                                                True)
            member.update(can_be_edited=False, is_anonymous=False,
                          can_send_welcome_messages=False,
                          **{r: bool(rights.get(r)) for r in ADMIN_RIGHTS})
        elif status == "restricted":
            allowed = self.restrictions.get((chat_id, user_id), {})
            member.update(is_member=user_id in self.members.get(chat_id, ()),
                          until_date=self.restricted_until.get((chat_id, user_id), 0),
                          **{p: bool(allowed.get(p, False)) for p in RESTRICTED_FLAGS})
        elif status == "kicked":
            member["until_date"] = self.banned_until.get((chat_id, user_id), 0)
        return member


    def _wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _touch(self) -> None:
        self._activity.set()
        self._activity = asyncio.Event()

    def _member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if chat_id in self.chats:
            return self.chats[chat_id]
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Test"}
        if isinstance(chat_id, int) and str(chat_id).startswith("-100"):
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        if isinstance(chat_id, int):
            return {"id": chat_id, "type": "group", "title": "Group"}
        return {"id": -1000000000001, "type": "channel", "title": str(chat_id),
                "username": str(chat_id).lstrip("@")}

    def _new_message_id(self, chat_id: Any) -> int:
        self._message_ids[chat_id] += 1
        return self._message_ids[chat_id]

    def _user_message(self, sender: dict[str, Any], chat_id: Any,
                      chat_type: str) -> dict[str, Any]:
        if chat_type == "private":
            chat_id = sender["id"] if chat_id is None else chat_id
            chat = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
            if "username" in sender:
                chat["username"] = sender["username"]
        elif chat_id is None:
            raise ValueError("a group message needs a chat_id")
        elif (known := self.chats.get(chat_id)) and known.get("type") == chat_type:
            chat = known  # a group made with group() keeps its title
        else:
            chat = {"id": chat_id, "type": chat_type, "title": "Group"}
        self.chats[chat_id] = chat
        msg = {"message_id": self._new_message_id(chat_id), "from": sender,
               "date": int(time.time()), "chat": chat}
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        prefix, _, rest = request.path.lstrip("/").partition("/")
        if prefix == "file":
            return self._download(rest)
        if not prefix.startswith("bot") or prefix[3:] != self.token:
            return self._answer(ApiError(401, "Unauthorized"))
        name = self._by_lower.get(rest.lower())
        if name is None:
            return self._answer(ApiError(404, "Not Found: method not found"))
        params, files = await _read_params(request)
        call = Call(name, params, files, self.clock())
        self.calls.append(call)
        self._touch()
        try:
            result = await self._perform(call, request)
        except ApiError as error:
            call.status, call.description = error.code, error.description
            if error.code == 429:
                self.too_many_requests += 1
            self._touch()
            return self._answer(error)
        except _Dropped:
            call.status, call.description = 0, "connection dropped"
            self._touch()
            raise asyncio.CancelledError from None  # aiohttp ends the connection quietly
        call.status, call.result = 200, result
        if name in SEND_METHODS:
            self.performed += 1
        self._touch()
        return web.json_response({"ok": True, "result": result})

    def _download(self, rest: str) -> web.Response:
        """GET /file/bot{token}/{file_path}: a file's content, as getFile named it."""
        owner, _, path = rest.partition("/")
        if owner != f"bot{self.token}":
            return web.Response(status=401, text="Unauthorized")
        file_id = self._file_paths.get(path)
        content = self.files.get(file_id) if file_id is not None else None
        if file_id is None or content is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(file_id)
        self._touch()
        return web.Response(body=content, content_type="application/octet-stream")

    async def _perform(self, call: Call, request: web.Request) -> Any:
        hang = self._hangs.get(call.method)
        if hang is not None:
            await hang.event.wait()
            if not hang.perform:
                raise ApiError(500, "Internal Server Error: request dropped")
        failures = self._failures.get(call.method)
        if failures:
            failure = failures.popleft()
            if failure is None:
                if request.transport is not None:
                    request.transport.abort()
                raise _Dropped
            raise failure
        if call.method in SEND_METHODS:
            self._gate(call.params.get("chat_id"))
        return await self._handlers[call.method](call.params, call)

    def _gate(self, chat_id: Any) -> None:
        """Flood control, then blocked chats; raises the error Telegram would answer."""
        now = self.clock()
        buckets = []
        if self.rate_limit:
            if self._bucket is None or self._bucket_rate != self.rate_limit:
                self._bucket = _Bucket(max(1.0, self.rate_limit), self.rate_limit, now)
                self._bucket_rate = self.rate_limit
            buckets.append(self._bucket)
        group = isinstance(chat_id, int) and chat_id < 0
        limit = self.group_limit if group else self.chat_limit
        if limit and chat_id is not None:
            count, seconds = limit
            bucket = self._chat_buckets.get(chat_id)
            if bucket is None or (bucket.capacity, bucket.per_second) != (count, count / seconds):
                bucket = self._chat_buckets[chat_id] = _Bucket(count, count / seconds, now)
            buckets.append(bucket)
        wait = max((b.wait(now) for b in buckets), default=0.0)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}",
                           {"retry_after": retry})
        for bucket in buckets:
            bucket.tokens -= 1
        if chat_id is not None and self.blocked and str(chat_id) in {str(b) for b in
                                                                       self.blocked}:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    @staticmethod
    def _answer(error: ApiError) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": error.code,
                                "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return web.json_response(body, status=error.code)

    # ------------------------------------------------------------------ messages

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """Validate reply_markup; return it if it is an inline keyboard (the only kind a
        Message echoes)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    if not button.get("text"):
                        raise _bad("BUTTON_TEXT_EMPTY")
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
            return markup
        if "keyboard" in markup:
            if not all(b.get("text") if isinstance(b, dict) else b
                       for row in markup["keyboard"] for b in row):
                raise _bad("keyboard button text is empty")
            return None
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None
        raise _bad("can't parse reply keyboard markup JSON object")

    def _chat_of(self, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _bad("chat_id is empty")
        return chat_id

    def _formatted(self, params: dict[str, Any], key: str, limit: int,
                   too_long: str) -> tuple[str, list[tuple[str, int, int]]]:
        raw = params.get(key) or ""
        plain, entities = (parse_html(raw) if str(params.get("parse_mode", "")).upper()
                           == "HTML" else (raw, []))
        if _utf16(plain) > limit:
            raise _bad(too_long)
        return plain, entities

    def _new_message(self, chat_id: Any, params: dict[str, Any], **content: Any) -> dict:
        if (chat_id, params.get("message_thread_id")) in self.deleted_topics:
            raise _bad("message thread not found")
        msg: dict[str, Any] = {"message_id": self._new_message_id(chat_id), "from": self.bot_user,
                               "date": int(time.time()), "chat": self._chat(chat_id), **content}
        if (thread := params.get("message_thread_id")) is not None:
            msg.update(message_thread_id=thread, is_topic_message=True)
        if (markup := self._markup(params)) is not None:
            msg["reply_markup"] = markup
        elif params.get("reply_markup") is not None:  # a reply keyboard, or its removal
            msg["_reply_keyboard"] = True
            self.reply_keyboards[chat_id] = params["reply_markup"]
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    async def _sendMessage(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        plain, entities = self._formatted(params, "text", TEXT_LIMIT, "message is too long")
        if not plain.strip():
            raise _bad("message text is empty")
        msg = self._new_message(chat_id, params, text=plain)
        msg["_entities"] = entities
        return _public(msg)

    async def _media(self, params: dict[str, Any], call: Call, kind: str) -> Any:
        chat_id = self._chat_of(params)
        upload = call.files.get(kind)
        if upload is None and not params.get(kind):
            raise _bad(f"there is no {kind} in the request")
        caption, entities = self._formatted(params, "caption", CAPTION_LIMIT,
                                            "message caption is too long")
        if upload is None:  # a file Telegram holds (its file_id) or an HTTP URL
            ref = str(params[kind])
            if not ref.startswith(("http://", "https://")) and ref not in self.files:
                raise _bad("wrong file identifier/HTTP URL specified")
        name, data = upload or (str(params[kind]), self.files.get(str(params[kind]), b""))
        ident = f"{kind}-{len(self.calls)}-{secrets.token_hex(4)}"
        self.files[ident] = data
        if kind == "photo":
            media: Any = [{"file_id": ident, "file_unique_id": ident[-8:], "width": 90,
                           "height": 90, "file_size": len(data)}]
        else:
            media = {"file_id": ident, "file_unique_id": ident[-8:], "file_name": name,
                     "file_size": len(data)}
        content: dict[str, Any] = {kind: media}
        if caption:
            content["caption"] = caption
        msg = self._new_message(chat_id, params, **content)
        msg["_entities"] = entities
        return _public(msg)

    async def _getFile(self, params: dict[str, Any], call: Call) -> Any:
        """A file's size and the path it is downloaded at (GET /file/bot{token}/PATH)."""
        file_id = str(params.get("file_id") or "")
        content = self.files.get(file_id)
        if content is None:
            raise _bad("invalid file_id")
        if len(content) > DOWNLOAD_LIMIT:
            raise _bad("file is too big")
        path = next((p for p, f in self._file_paths.items() if f == file_id), None)
        if path is None:
            path = f"photos/file_{len(self._file_paths)}.jpg"
            self._file_paths[path] = file_id
        return {"file_id": file_id, "file_unique_id": f"u{abs(hash(file_id)) % 10**8}",
                "file_size": len(content), "file_path": path}

    async def _sendPhoto(self, params: dict[str, Any], call: Call) -> Any:
        return await self._media(params, call, "photo")

    async def _sendDocument(self, params: dict[str, Any], call: Call) -> Any:
        return await self._media(params, call, "document")

    def _editable(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_of(params)
        msg = self.messages.get((chat_id, params.get("message_id")))
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id or msg.get("_reply_keyboard"):
            raise _bad("message can't be edited")
        return msg

    async def _editMessageText(self, params: dict[str, Any], call: Call) -> Any:
        if params.get("inline_message_id"):
            return True
        msg = self._editable(params)
        plain, entities = self._formatted(params, "text", TEXT_LIMIT, "message is too long")
        if not plain.strip():
            raise _bad("message text is empty")
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        markup = self._markup(params)
        if (plain, entities, markup) == (msg.get("text"), msg.get("_entities", []),
                                         msg.get("reply_markup")):
            raise ApiError(400, NOT_MODIFIED)
        msg.update(text=plain, _entities=entities, edit_date=int(time.time()))
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        return _public(msg)

    async def _editMessageReplyMarkup(self, params: dict[str, Any], call: Call) -> Any:
        msg = self._editable(params)
        markup = self._markup(params)
        if markup == msg.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return _public(msg)

    async def _deleteMessage(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        if self.messages.get((chat_id, params.get("message_id"))) is None:
            raise _bad("message to delete not found")
        if self.messages[(chat_id, params["message_id"])].get("from", {}).get("id") \
                != self.bot_id:
            self._may(chat_id, "can_delete_messages")
        del self.messages[(chat_id, params["message_id"])]
        self.deleted.append((chat_id, params["message_id"]))
        return True

    async def _sendChatAction(self, params: dict[str, Any], call: Call) -> Any:
        self._chat_of(params)
        return True

    async def _createForumTopic(self, params: dict[str, Any], call: Call) -> Any:
        """A topic in a forum supergroup (one made with group(..., forum=True) or seen
        with a topic message); its id is the message id of its opening notice."""
        chat_id = self._chat_of(params)
        if not self._chat(chat_id).get("is_forum"):
            raise _bad("the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise _bad("TOPIC_NAME_INVALID")
        thread = self._new_message_id(chat_id)
        self.topics[(chat_id, thread)] = name
        return {"message_thread_id": thread, "name": name, "icon_color": 7322096}

    def _topic_of(self, params: dict[str, Any]) -> tuple[Any, int]:
        """The forum topic a topic call names: one createForumTopic made, not deleted."""
        chat_id = self._chat_of(params)
        if not self._chat(chat_id).get("is_forum"):
            raise _bad("the chat is not a forum")
        key = (chat_id, params.get("message_thread_id"))
        if key not in self.topics:
            raise _bad("TOPIC_ID_INVALID")
        return key

    async def _closeForumTopic(self, params: dict[str, Any], call: Call) -> Any:
        key = self._topic_of(params)
        if key in self.closed_topics:
            raise _bad("TOPIC_NOT_MODIFIED")
        self.closed_topics.add(key)
        return True

    async def _reopenForumTopic(self, params: dict[str, Any], call: Call) -> Any:
        key = self._topic_of(params)
        if key not in self.closed_topics:
            raise _bad("TOPIC_NOT_MODIFIED")
        self.closed_topics.discard(key)
        return True

    async def _editForumTopic(self, params: dict[str, Any], call: Call) -> Any:
        key = self._topic_of(params)
        name = params.get("name")
        if name is not None:
            if not 1 <= len(str(name)) <= 128:
                raise _bad("TOPIC_NAME_INVALID")
            if str(name) == self.topics[key]:
                raise _bad("TOPIC_NOT_MODIFIED")
            self.topics[key] = str(name)
        return True

    async def _deleteForumTopic(self, params: dict[str, Any], call: Call) -> Any:
        self.delete_topic(*self._topic_of(params))
        return True

    async def _setMessageReaction(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        key = (chat_id, params.get("message_id"))
        if key not in self.messages:
            raise _bad("message to react not found")
        reaction = params.get("reaction") or []
        if not isinstance(reaction, list):
            raise _bad("can't parse reaction types JSON object")
        emoji = []
        for kind in reaction:
            if kind.get("type") != "emoji" or kind.get("emoji") not in BOT_REACTIONS:
                raise _bad("REACTION_INVALID")
            emoji.append(kind["emoji"])
        self.reactions[key] = emoji
        return True

    async def _answerCallbackQuery(self, params: dict[str, Any], call: Call) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._queries.discard(query_id)
        return True

    # ------------------------------------------------------------------ updates, webhook

    async def _getMe(self, params: dict[str, Any], call: Call) -> Any:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _getUpdates(self, params: dict[str, Any], call: Call) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        if isinstance(offset, int):
            self.offsets.append(offset)
            if offset > 0:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
            elif offset < 0:
                self.pending = self.pending[offset:]
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # a newer poll terminates an older, waiting one
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make "
                                    "sure that only one bot instance is running")
            ready = self._deliverable()
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                return ready[:limit]
            event = self._updates_changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def _deliverable(self) -> list[dict[str, Any]]:
        """Pending updates of allowed types; others are dropped, as Telegram does."""
        allowed = set(self.allowed_updates)

        def wanted(update: dict[str, Any]) -> bool:
            kind = next((k for k in update if k != "update_id"), "")
            return kind in allowed if allowed else kind not in NOT_BY_DEFAULT

        self.pending = [u for u in self.pending if wanted(u)]
        return list(self.pending)

    async def _setWebhook(self, params: dict[str, Any], call: Call) -> Any:
        url = params.get("url") or ""
        if not url:
            self.webhook = None
            return True
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.match(secret):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = {"url": url, "secret_token": secret,
                        "allowed_updates": params.get("allowed_updates"),
                        "max_connections": params.get("max_connections") or 40}
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        self._wake_pollers()
        return True

    async def _deleteWebhook(self, params: dict[str, Any], call: Call) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self.pending.clear()
        return True

    async def _getWebhookInfo(self, params: dict[str, Any], call: Call) -> Any:
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False,
                                "pending_update_count": len(self.pending)}
        if self.webhook is not None:
            info.update(url=self.webhook["url"], max_connections=self.webhook["max_connections"])
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    # ------------------------------------------------------------------ commands, chats

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = dict(params.get("scope") or {"type": "default"})
        if "chat_id" in scope:
            scope["chat_id"] = _int_or_str(scope["chat_id"])
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def _setMyCommands(self, params: dict[str, Any], call: Call) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _getMyCommands(self, params: dict[str, Any], call: Call) -> Any:
        return self.commands.get(self._scope_key(params), [])

    async def _deleteMyCommands(self, params: dict[str, Any], call: Call) -> Any:
        self.commands.pop(self._scope_key(params), None)
        return True

    async def _createChatInviteLink(self, params: dict[str, Any], call: Call) -> Any:
        self._chat_of(params)
        if params.get("creates_join_request") and params.get("member_limit"):
            raise _bad("member limit can't be specified for links requiring administrator "
                       "approval")
        link: dict[str, Any] = {"invite_link": f"https://t.me/+{secrets.token_urlsafe(12)}",
                                "creator": self.bot_user,
                                "creates_join_request": bool(params.get("creates_join_request")),
                                "is_primary": False, "is_revoked": False}
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key):
                link[key] = params[key]
        self.invite_links.append({**link, "chat_id": params["chat_id"]})
        return link

    async def _revokeChatInviteLink(self, params: dict[str, Any], call: Call) -> Any:
        self._chat_of(params)
        for link in self.invite_links:
            if link["chat_id"] == params["chat_id"] \
                    and link["invite_link"] == params.get("invite_link"):
                link["is_revoked"] = True
                return {k: v for k, v in link.items() if k != "chat_id"}
        raise _bad("INVITE_HASH_EXPIRED")

    def _chat_user(self, params: dict[str, Any], *, groups_only: bool = False) -> tuple[Any, int]:
        chat_id = self._chat_of(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad("user_id is empty")
        if groups_only and isinstance(chat_id, int) and chat_id > 0:
            raise _bad("chat member status can't be changed in private chats")
        return chat_id, user_id

    async def _approveChatJoinRequest(self, params: dict[str, Any], call: Call) -> Any:
        key = self._chat_user(params)
        if key not in self.join_requests:
            raise _bad("HIDE_REQUESTER_MISSING")
        self.join_requests.discard(key)
        if key[1] not in self.members[key[0]]:
            self.members[key[0]].add(key[1])
            self._member_update(key[0], key[1], "left", "member", self.bot_id)
        return True

    async def _declineChatJoinRequest(self, params: dict[str, Any], call: Call) -> Any:
        key = self._chat_user(params)
        if key not in self.join_requests:
            raise _bad("HIDE_REQUESTER_MISSING")
        self.join_requests.discard(key)
        return True

    async def _banChatMember(self, params: dict[str, Any], call: Call) -> Any:
        chat_id, user_id = self._chat_user(params, groups_only=True)
        self._may(chat_id, "can_restrict_members")
        if self.owners.get(chat_id) == user_id:
            raise _bad("can't remove chat owner")
        if user_id in self.admins.get(chat_id, {}):
            raise _bad("user is an administrator of the chat")
        self.banned_until[(chat_id, user_id)] = int(params.get("until_date") or 0)
        if (chat_id, user_id) in self.banned:
            return True
        old = self._status(chat_id, user_id)
        self.banned.add((chat_id, user_id))
        self.members[chat_id].discard(user_id)
        self._member_update(chat_id, user_id, old, "kicked", self.bot_id)
        return True

    async def _unbanChatMember(self, params: dict[str, Any], call: Call) -> Any:
        """Without only_if_banned Telegram also takes a present member out (so that
        afterwards they are not in the chat but may join); with it, only a ban goes."""
        key = chat_id, user_id = self._chat_user(params, groups_only=True)
        if key in self.banned:
            self.banned.discard(key)
            self.banned_until.pop(key, None)
            self._member_update(chat_id, user_id, "kicked", "left", self.bot_id)
        elif not params.get("only_if_banned") and user_id in self.members[chat_id]:
            if self.owners.get(chat_id) == user_id or user_id in self.admins.get(chat_id, {}):
                raise _bad("user is an administrator of the chat")
            old = self._status(chat_id, user_id)
            self.members[chat_id].discard(user_id)
            self._member_update(chat_id, user_id, old, "left", self.bot_id)
        return True

    async def _getChat(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        chat = self.chats.get(chat_id)
        if chat is None and isinstance(chat_id, int) and chat_id > 0:
            chat = self._chat(chat_id)
        if chat is None:
            raise _bad("chat not found")
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    async def _getChatMember(self, params: dict[str, Any], call: Call) -> Any:
        chat_id, user_id = self._chat_user(params)
        if chat_id not in self.chats:
            raise _bad("chat not found")
        return self._chat_member(chat_id, user_id, self._status(chat_id, user_id))

    async def _restrictChatMember(self, params: dict[str, Any], call: Call) -> Any:
        key = chat_id, user_id = self._chat_user(params, groups_only=True)
        if not isinstance(params.get("permissions"), dict):
            raise _bad("can't parse permissions JSON object")
        if self._chat(chat_id).get("type") != "supergroup":
            raise _bad("method is available only for supergroups")
        self._may(chat_id, "can_restrict_members")
        if self.owners.get(chat_id) == user_id or user_id in self.admins.get(chat_id, {}):
            raise _bad("user is an administrator of the chat")
        if user_id == self.bot_id:
            raise _bad("can't restrict self")
        if all(params["permissions"].get(p) for p in RESTRICTED_FLAGS):
            self.restrictions.pop(key, None)  # every permission: the restriction is lifted
            self.restricted_until.pop(key, None)
            return True
        self.restrictions[key] = params["permissions"]
        self.restricted_until[key] = int(params.get("until_date") or 0)
        return True

    async def _getChatAdministrators(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        if isinstance(chat_id, int) and chat_id > 0:
            raise _bad("there are no administrators in the private chat")
        if chat_id not in self.chats:
            raise _bad("chat not found")
        owner = self.owners.get(chat_id)
        admins = [self._chat_member(chat_id, owner, "creator")] if owner is not None else []
        return admins + [self._chat_member(chat_id, user, "administrator")
                         for user in self.admins.get(chat_id, {}) if user != owner]

    # ------------------------------------------------------------------ payments in stars

    async def _createInvoiceLink(self, params: dict[str, Any], call: Call) -> Any:
        title, description = str(params.get("title", "")), str(params.get("description", ""))
        payload, currency = str(params.get("payload", "")), params.get("currency")
        if not 1 <= len(title) <= 32:
            raise _bad("INVOICE_TITLE_INVALID")
        if not 1 <= len(description) <= 255:
            raise _bad("INVOICE_DESCRIPTION_INVALID")
        if not 1 <= len(payload.encode()) <= 128:
            raise _bad("INVOICE_PAYLOAD_INVALID")
        prices = params.get("prices")
        if not isinstance(prices, list) or not prices:
            raise _bad("can't parse prices JSON object")
        if currency == "XTR":
            if params.get("provider_token"):
                raise _bad("PROVIDER_TOKEN_INVALID: payments in Telegram Stars take none")
            if len(prices) != 1 or not 1 <= int(prices[0].get("amount", 0)) <= 10_000:
                raise _bad("STARS_INVOICE_INVALID: one price of 1-10000 Stars")
        period = params.get("subscription_period")
        if period is not None and (currency != "XTR" or period != 2_592_000):
            raise _bad("SUBSCRIPTION_PERIOD_INVALID")
        link = f"https://t.me/$invoice{len(self.invoices) + 1}"
        self.invoices[link] = dict(params)
        return link

    async def _answerPreCheckoutQuery(self, params: dict[str, Any], call: Call) -> Any:
        query_id = str(params.get("pre_checkout_query_id", ""))
        if query_id not in self._checkouts:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        ok = params.get("ok")
        if not isinstance(ok, bool):
            raise _bad("ok is required")
        error = params.get("error_message")
        if not ok and not error:
            raise _bad("ERROR_MESSAGE_EMPTY")
        self._checkouts.discard(query_id)
        self.checkout_answers[query_id] = (ok, error)
        return True

    def _charge(self, params: dict[str, Any]) -> tuple[int, str]:
        user_id, charge = params.get("user_id"), str(params.get("telegram_payment_charge_id", ""))
        if self.charges.get(charge) != user_id:
            raise _bad("CHARGE_NOT_FOUND")
        return int(user_id), charge  # type: ignore[arg-type]

    async def _refundStarPayment(self, params: dict[str, Any], call: Call) -> Any:
        _, charge = self._charge(params)
        if charge in self.refunded:
            raise _bad("CHARGE_ALREADY_REFUNDED")
        self.refunded.add(charge)
        return True

    async def _editUserStarSubscription(self, params: dict[str, Any], call: Call) -> Any:
        user_id, charge = self._charge(params)
        canceled = params.get("is_canceled")
        if not isinstance(canceled, bool):
            raise _bad("is_canceled is required")
        self.star_renewals[(user_id, charge)] = canceled
        return True

    async def _getChatMemberCount(self, params: dict[str, Any], call: Call) -> Any:
        chat_id = self._chat_of(params)
        if chat_id not in self.chats:
            raise _bad("chat not found")
        people = self.members.get(chat_id, set()) | set(self.admins.get(chat_id, {}))
        owner = self.owners.get(chat_id)
        return len(people | {self.bot_id} | ({owner} if owner is not None else set()))


_METHODS = frozenset({
    "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo", "sendMessage",
    "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup", "deleteMessage",
    "sendChatAction", "answerCallbackQuery", "setMyCommands", "getMyCommands",
    "deleteMyCommands", "createChatInviteLink", "revokeChatInviteLink",
    "approveChatJoinRequest",
    "declineChatJoinRequest", "banChatMember", "unbanChatMember", "restrictChatMember",
    "getChat", "getChatMember", "getChatAdministrators", "getChatMemberCount",
    "createForumTopic", "getFile", "closeForumTopic", "reopenForumTopic", "editForumTopic",
    "deleteForumTopic", "setMessageReaction", "createInvoiceLink", "answerPreCheckoutQuery",
    "refundStarPayment", "editUserStarSubscription",
})


@contextlib.asynccontextmanager
async def aiogram_bot(api: FakeBotAPI, **session: Any) -> AsyncIterator[Any]:
    """A real aiogram Bot talking to `api`; its HTTP session is closed on exit."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.root),
                                                **session))
    try:
        yield bot
    finally:
        await bot.session.close()


@contextlib.asynccontextmanager
async def ptb_bot(api: FakeBotAPI) -> AsyncIterator[Any]:
    """A real, initialized python-telegram-bot Bot talking to `api`; shut down on exit.
    (Set PTB_TIMEDELTA=true in the environment, or PTB warns whenever a 429 arrives.)"""
    import telegram

    bot = telegram.Bot(api.token, base_url=f"{api.root}/bot",
                       base_file_url=f"{api.root}/file/bot")
    async with bot:
        yield bot


def photo_bytes(file_id: str, size: int) -> bytes:
    """The content of a photo a user sent (`size` bytes, a JPEG's first bytes), the same
    for the same file_id, so a test can tell which photo arrived where."""
    head = b"\xff\xd8\xff\xe0" + file_id.encode() + b";"
    return (head * (size // len(head) + 1))[:size]


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    """The Message as Telegram returns it, without our bookkeeping keys."""
    return {k: v for k, v in msg.items() if not k.startswith("_")}


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Query string and body, whatever the encoding; files keyed by the parameter name."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, tuple[str, bytes]] = {}
    if request.can_read_body:
        kind = request.content_type
        if kind == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif kind == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = (part.filename, bytes(data))  # type: ignore
                else:
                    params[part.name or ""] = data.decode()
        else:
            params.update(await request.post())
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.pop(value[len("attach://"):], None)
            if upload is not None:
                files[key] = upload
                del params[key]
    return _decode(params), files


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    """Form values are strings: decode JSON-valued fields, integers and booleans."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str):
            if key in JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            elif key in INT_FIELDS:
                value = _int_or_str(value)
            elif key in BOOL_FIELDS:
                value = value.strip().lower() in ("true", "1")
        out[key] = value
    return out
