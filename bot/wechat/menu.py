"""The custom menu (自定义菜单) built from the programme's [[menu]].

Commands become CLICK buttons whose key is the command itself ("/points"), so a menu
pushed by an older programme file still means the same thing; urls become VIEW
buttons. Labels are in the programme's default language, within WeChat's limits.
"""

from __future__ import annotations

from typing import Any

from domain.config import MenuEntry, Programme

TOP_BYTES, SUB_BYTES, KEY_BYTES = 16, 60, 128
CREATE = "/cgi-bin/menu/create"


class MenuError(ValueError):
    """The programme's menu breaks a WeChat limit; the message names the entry."""


def build(programme: Programme) -> dict[str, Any]:
    if not programme.menu:
        raise MenuError("the programme file has no [[menu]] entries")
    locale = programme.default_locale
    return {"button": [_button(entry, locale, TOP_BYTES, f"menu.{i}")
                       for i, entry in enumerate(programme.menu)]}


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
