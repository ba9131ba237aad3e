"""Composes every group feature's router into the one Moderation runs."""

from __future__ import annotations

from handlers.community.moderation import (
    commands,
    commands_people,
    flood,
    gated,
    newcomers,
    reports,
    settings_commands,
    warns,
)
from handlers.community.moderation.dispatch import GroupRouter

FEATURES = (commands, warns, reports, settings_commands, flood, newcomers)


def build_group_router() -> GroupRouter:
    """A new router each call: the people and seat listeners keep their memory per
    router."""
    root = GroupRouter()
    # First: whoever speaks is remembered, even when antiflood then ends the event.
    root.include(commands_people.build())
    root.include(gated.build())  # and seated, when the chat is gated
    for feature in FEATURES:
        root.include(feature.router)
    return root
