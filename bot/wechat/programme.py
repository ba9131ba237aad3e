"""The `[wechat]` section of the programme file: plain data for the Official Account.
Secrets (app id, secret, token, AES key) stay in the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, field_validator

from domain.community import durations
from domain.config import Strict, Url


class WeChatTemplate(Strict):
    """A pre-approved WeChat message used when the 48-hour service window is closed,
    keyed in [wechat.templates] by the notice it stands in for; the notice's text goes
    into its `field`."""

    id: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    kind: Literal["template", "subscribe"] = "template"
    url: Url | None = None
    field: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.]{0,31}$")] = "content"


class WeChatGroup(Strict):
    """A group staff keep by hand, such as a WeCom customer group (企业微信客户群): an
    Official Account cannot run groups, so members who qualify get its join QR picture
    (bot/wechat/groups.py) and /gates lists who to take out."""

    code: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
    title: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    tier: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    image: Annotated[StrictStr, Field(min_length=1, max_length=1024)]  # beside the file
    grace: StrictStr | None = None  # the [community] grace when left out

    @field_validator("grace")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and durations.parse(value) is None:
            raise ValueError(f"{value!r} is not a duration such as 0, 12h, 3d or 1w")
        return value


class WeChat(Strict):
    """Plain data for the WeChat Official Account; secrets stay in the environment."""

    card_id: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    window_hours: Annotated[StrictInt, Field(ge=1, le=48)] = 48
    window_quota: Annotated[StrictInt, Field(ge=1, le=1000)] = 20
    templates: dict[str, WeChatTemplate] = {}
    groups: tuple[WeChatGroup, ...] = ()

    @field_validator("groups")
    @classmethod
    def _distinct(cls, value: tuple[WeChatGroup, ...]) -> tuple[WeChatGroup, ...]:
        codes = [group.code for group in value]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise ValueError(f"each group needs its own code; given twice: {', '.join(twice)}")
        return value

