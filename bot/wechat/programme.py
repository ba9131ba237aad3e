"""The `[wechat]` section of the programme file: plain data for the Official Account.
Secrets (app id, secret, token, AES key) stay in the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from domain.config import Strict, Url


class WeChatTemplate(Strict):
    """A pre-approved WeChat message used when the 48-hour service window is closed,
    keyed in [wechat.templates] by the notice it stands in for; the notice's text goes
    into its `field`."""

    id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    kind: Literal["template", "subscribe"] = "template"
    url: Url | None = None
    field: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.]{0,31}$")] = "content"


class WeChat(Strict):
    """Plain data for the WeChat Official Account; secrets stay in the environment."""

    card_id: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    window_hours: Annotated[StrictInt, Field(ge=1, le=48)] = 48
    window_quota: Annotated[StrictInt, Field(ge=1, le=1000)] = 20
    templates: dict[str, WeChatTemplate] = {}

