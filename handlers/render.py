"""Reply -> Rendered text and labelled buttons, in one locale."""

from __future__ import annotations

from handlers.i18n import translate
from handlers.types import Rendered, Reply, Text


def render(reply: Reply, locale: str) -> Rendered:
    return Rendered(
        text=translate(Text(reply.key, reply.params), locale),
        buttons=tuple(
            tuple((translate(b.label, locale), b.action) for b in row) for row in reply.buttons
        ),
        image=reply.image,
        file=reply.file,
        edit=reply.edit,
    )
