"""Run by test_ledger_processes: one OS process redeeming from a shared member."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from domain.errors import InsufficientPoints
from domain.points import ledger
from domain.storage.database import Database


async def main(url: str, schema: str, member_id: int, worker: int, tries: int) -> None:
    kwargs = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    db = Database.from_url(url, **kwargs)
    won = 0
    try:
        for i in range(tries):
            try:
                async with db.uow() as uow:
                    await ledger.post(uow, ledger.Post(
                        member_id=member_id, delta=-10, kind="redeem", reason="test",
                        key=f"proc-{worker}-{i}"), datetime.now(UTC))
                    await uow.commit()
                won += 1
            except InsufficientPoints:
                pass
    finally:
        await db.dispose()
    print(json.dumps({"worker": worker, "won": won}))


if __name__ == "__main__":
    url, schema, member_id, worker, tries = sys.argv[1:6]
    asyncio.run(main(url, schema, int(member_id), int(worker), int(tries)))
