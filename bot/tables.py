"""Every table a memberbot process uses: the domain's, and the platform state that
bot/ keeps beside its adapters. The migrations build them all; tests that create a
schema without migrating import this so `Base.metadata` is whole."""

import domain.tables  # noqa: F401
from bot.wechat.store import tables as wechat_store  # noqa: F401
