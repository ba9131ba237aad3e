"""The programme file's building blocks: strict sections, and wording the file (or an
operator) gives in every language. Apart from domain.config, which imports the
capabilities' own sections (surveys), so they can share these without a cycle."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(Strict):
    """Programme-owned wording (tier and benefit names), given in every language."""

    en: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    zh_Hans: Annotated[StrictStr, Field(min_length=1, max_length=200)]

    def get(self, locale: str) -> str:
        return getattr(self, locale, self.en)


class Words(LocalText):
    """Longer wording in every language: a survey's intro and questions."""

    en: Annotated[StrictStr, Field(min_length=1, max_length=600)]
    zh_Hans: Annotated[StrictStr, Field(min_length=1, max_length=600)]


class Document(LocalText):
    """A document in every language: the privacy notice, the terms. Long, yet within
    one chat message (4,096 characters at most, with the words around it)."""

    en: Annotated[StrictStr, Field(min_length=1, max_length=3000)]
    zh_Hans: Annotated[StrictStr, Field(min_length=1, max_length=3000)]
