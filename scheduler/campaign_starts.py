"""Starting scheduled campaigns when their time comes.

The start writes each campaign's deliveries (domain/campaigns/campaigns.py); sending them is the
dispatcher's, in whichever bot process runs (bot/campaign_dispatch.py), which also starts due
campaigns itself every few seconds so "send now" needs no scheduler. Both may run:
the start is claimed under a lease, so a campaign is started once.
"""

from __future__ import annotations

from datetime import datetime

from domain.campaigns import campaigns
from domain.config import Programme
from domain.storage.database import Database


async def start_due(db: Database, programme: Programme, now: datetime) -> int:
    """Start every campaign whose scheduled time has come; returns how many started."""
    return await campaigns.start_due(db, programme, now)
