"""Reply -> Rendered text and labelled buttons, in one locale; and Rendered to and from
JSON, so an answer recorded with its delivery can be sent again exactly as it was."""

from __future__ import annotations

import base64
from typing import Any

from handlers.engine.i18n import translate
from handlers.engine.types import Rendered, Reply, Text


def render(reply: Reply, locale: str) -> Rendered:
    return Rendered(
        text=translate(Text(reply.key, reply.params), locale),
        buttons=tuple(
            tuple((translate(b.label, locale), b.action) for b in row) for row in reply.buttons
        ),
        image=reply.image,
        file=reply.file,
        edit=reply.edit,
        key=reply.key,
        scene=(reply.scene.payload, translate(reply.scene.caption, locale))
        if reply.scene is not None else None,
        qr=reply.qr,
    )


def dump(message: Rendered) -> dict[str, Any]:
    data: dict[str, Any] = {"text": message.text, "key": message.key}
    if message.buttons:
        data["buttons"] = [[list(b) for b in row] for row in message.buttons]
    if message.image is not None:
        data["image"] = base64.b64encode(message.image).decode()
    if message.file is not None:
        data["file"] = [message.file[0], base64.b64encode(message.file[1]).decode()]
    if message.edit:
        data["edit"] = True
    if message.scene is not None:
        data["scene"] = list(message.scene)
    if message.qr is not None:
        data["qr"] = message.qr
    return data


def load(data: dict[str, Any]) -> Rendered:
    file = data.get("file")
    return Rendered(
        text=data["text"],
        buttons=tuple(tuple((label, action) for label, action in row)
                      for row in data.get("buttons", [])),
        image=base64.b64decode(data["image"]) if "image" in data else None,
        file=(file[0], base64.b64decode(file[1])) if file else None,
        edit=bool(data.get("edit")),
        key=data.get("key", ""),
        scene=tuple(data["scene"]) if "scene" in data else None,
        qr=data.get("qr"),
    )
