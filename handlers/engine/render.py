"""Reply -> Rendered text and labelled buttons, in one locale; and Rendered to and from
JSON, so an answer recorded with its delivery can be sent again exactly as it was,
except a big file (a CSV export): encoding megabytes into the record would hold the
event loop, so a redelivered update gets the words without it."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from handlers.engine.i18n import translate
from handlers.engine.types import VALUE, Invoice, Rendered, Reply, ShownInvoice, Text, unmark

RECORDED_FILE_MOST = 256 * 1024  # bytes of a file kept in a recorded answer


def render(reply: Reply, locale: str) -> Rendered:
    text, mentions = unmark(translate(Text(reply.key, reply.params), locale))
    return Rendered(
        text=text,
        mentions=mentions,
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
        values=tuple(b.action for row in reply.buttons for b in row
                     if b.kind is not None and b.kind.startswith(VALUE)),
        invoice=_invoice(reply.invoice, locale) if reply.invoice is not None else None,
    )


def _invoice(invoice: Invoice, locale: str) -> ShownInvoice:
    return ShownInvoice(translate(invoice.title, locale), translate(invoice.description, locale),
                        invoice.payload, invoice.price, invoice.currency, invoice.period_s,
                        translate(invoice.label, locale))


def dump(message: Rendered) -> dict[str, Any]:
    data: dict[str, Any] = {"text": message.text, "key": message.key}
    if message.buttons:
        data["buttons"] = [[list(b) for b in row] for row in message.buttons]
    if message.image is not None:
        data["image"] = base64.b64encode(message.image).decode()
    if message.file is not None and len(message.file[1]) <= RECORDED_FILE_MOST:
        data["file"] = [message.file[0], base64.b64encode(message.file[1]).decode()]
    if message.edit:
        data["edit"] = True
    if message.scene is not None:
        data["scene"] = list(message.scene)
    if message.qr is not None:
        data["qr"] = message.qr
    if message.values:
        data["values"] = list(message.values)
    if message.image_ref is not None:
        data["image_ref"] = message.image_ref
    if message.mentions:
        data["mentions"] = [list(m) for m in message.mentions]
    if message.invoice is not None:
        data["invoice"] = dataclasses.asdict(message.invoice)
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
        values=tuple(data.get("values", ())),
        image_ref=data.get("image_ref"),
        mentions=tuple((int(a), int(b), str(u)) for a, b, u in data.get("mentions", ())),
        invoice=ShownInvoice(**data["invoice"]) if "invoice" in data else None,
    )
