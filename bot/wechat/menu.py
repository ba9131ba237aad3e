"""The custom menu (自定义菜单) built from the programme's [[menu]].

Commands become CLICK buttons whose key is the command itself ("/points"), so a menu
pushed by an older programme file still means the same thing; urls become VIEW
buttons. Labels are in the programme's default language, within WeChat's limits.

The menu always leads to the member's home card (/menu), as the greeting does on
every platform: a programme menu that has no entry for it gets one, at the top level
when there is room, else first in a group that has room (a full menu is left as the
owner wrote it). A programme without a menu gets the card alone.
"""

from __future__ import annotations

from typing import Any

from domain.config import MenuEntry, Programme
from handlers.engine.i18n import translate
from handlers.engine.types import Text

TOP_BYTES, SUB_BYTES, KEY_BYTES = 16, 60, 128
TOP_COUNT, SUB_COUNT = 3, 5  # WeChat's most buttons at the top level, and in a group
CREATE = "/cgi-bin/menu/create"
CARD = "/menu"  # the home card
HOME = {CARD, "/start"}  # entries that already show it


class MenuError(ValueError):
    """The programme's menu breaks a WeChat limit; the message names the entry."""


def build(programme: Programme) -> dict[str, Any]:
    locale = programme.default_locale
    buttons = [_button(entry, locale, TOP_BYTES, f"menu.{i}")
               for i, entry in enumerate(programme.menu)]
    if not any(_home(entry) or any(_home(item) for item in entry.items)
               for entry in programme.menu):
        _add_card(buttons, locale)
    return {"button": buttons}


def _home(entry: MenuEntry) -> bool:
    return (entry.command or "").split(" ", 1)[0] in HOME


def _add_card(buttons: list[dict[str, Any]], locale: str) -> None:
    card = {"type": "click", "name": translate(Text("home.menu_button"), locale), "key": CARD}
    if len(buttons) < TOP_COUNT:
        buttons.append(card)
        return
    group = next((b for b in buttons if len(b.get("sub_button", ())) in range(1, SUB_COUNT)),
                 None)
    if group is not None:
        group["sub_button"].insert(0, card)


def _button(entry: MenuEntry, locale: str, limit: int, where: str) -> dict[str, Any]:
    name = entry.label.get(locale)
    if len(name.encode()) > limit:
        raise MenuError(f"{where}.label: {name!r} is longer than WeChat's {limit} bytes")
    if entry.items:
        return {"name": name, "sub_button": [_button(item, locale, SUB_BYTES, f"{where}.{j}")
                                             for j, item in enumerate(entry.items)]}
    if entry.url:
        return {"type": "view", "name": name, "url": entry.url}
    assert entry.command is not None
    if len(entry.command.encode()) > KEY_BYTES:
        raise MenuError(f"{where}.command is longer than WeChat's {KEY_BYTES} bytes")
    return {"type": "click", "name": name, "key": entry.command}
