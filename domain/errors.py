"""Domain refusals. Each carries a code the handlers translate, never a sentence."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, **params: Any) -> None:
        super().__init__(self.code, params)
        self.params = params


class InsufficientPoints(DomainError):
    code = "insufficient_points"


class InvalidAmount(DomainError):
    code = "invalid_amount"


class AlreadyCheckedIn(DomainError):
    code = "already_checked_in"


class Refused(DomainError):
    """A refusal whose code is chosen where it is raised: `Refused("closed", survey=..)`."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        super().__init__(**params)


class InvalidInput(Refused):
    """A value the member typed does not parse; `code` says which rule it broke."""


class LinkRefused(Refused):
    pass


class UnknownMember(DomainError):
    code = "unknown_member"


class UnknownTier(DomainError):
    code = "unknown_tier"
