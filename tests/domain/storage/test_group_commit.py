"""Group commit, on its own: a fake `run` stands for the transaction, so these are about
who ends up in which batch and who learns what, not about a database.

A batch can be held open ("plug" in it waits for `release`), so what arrives meanwhile
is known to wait for the next batch; nothing here waits on a clock.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from domain.storage.group_commit import LATER, GroupCommit

PLUG = "plug"
HANG_GUARD = 10  # seconds: only so that a regression fails instead of hanging the run


class Batches:
    """A fake `run`: records each batch and answers each item with `decide(item)`, which
    may return LATER or raise to fail the whole batch. A batch holding PLUG waits for
    `release`, and `plugged` says it has started."""

    def __init__(self, decide: Callable[[Any], Any] = lambda item: f"done {item}") -> None:
        self.decide = decide
        self.seen: list[list[Any]] = []
        self.plugged = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, items: list[Any]) -> list[Any]:
        self.seen.append(list(items))
        if PLUG in items:
            self.plugged.set()
            await self.release.wait()
        return [self.decide(item) for item in items]


async def arrive(commit: GroupCommit, *items: Any) -> list[asyncio.Task]:
    """Callers submitting `items`, in this order. asyncio runs ready tasks first in,
    first out, so one pass of the loop lets each take its first step, which queues its
    item: after this they are all waiting, in arrival order."""
    tasks = [asyncio.create_task(commit.submit(item)) for item in items]
    await asyncio.sleep(0)
    return tasks


async def plugged(commit: GroupCommit, batches: Batches) -> asyncio.Task:
    """A batch is running and held open: whatever arrives now waits for the next one."""
    (plug,) = await arrive(commit, PLUG)
    await asyncio.wait_for(batches.plugged.wait(), HANG_GUARD)
    return plug


async def results(tasks: list[asyncio.Task]) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), HANG_GUARD)


async def test_each_caller_gets_its_own_result_and_a_batch_keeps_arrival_order():
    batches = Batches()
    commit = GroupCommit(batches)
    plug = await plugged(commit, batches)
    callers = await arrive(commit, "c", "a", "b")
    batches.release.set()
    assert await results([plug, *callers]) == ["done plug", "done c", "done a", "done b"]
    assert batches.seen == [[PLUG], ["c", "a", "b"]]


async def test_callers_that_arrive_together_share_one_batch():
    batches = Batches()
    commit = GroupCommit(batches)
    assert await results([asyncio.create_task(commit.submit(n)) for n in range(3)]) \
        == ["done 0", "done 1", "done 2"]
    assert batches.seen == [[0, 1, 2]]


async def test_a_batch_holds_at_most_limit_items_and_the_rest_follow_in_order():
    batches = Batches()
    commit = GroupCommit(batches, limit=2)
    plug = await plugged(commit, batches)
    callers = await arrive(commit, 1, 2, 3, 4, 5)
    batches.release.set()
    assert await results([plug, *callers]) == ["done plug", *(f"done {n}" for n in range(1, 6))]
    assert batches.seen == [[PLUG], [1, 2], [3, 4], [5]]


async def test_a_later_item_goes_first_in_the_next_batch_and_its_caller_gets_that_result():
    runs: dict[str, int] = {}

    def decide(item: str) -> Any:
        runs[item] = runs.get(item, 0) + 1
        # Put off the first time only, as the engine puts off a member's second message.
        if item.startswith("again") and runs[item] == 1:
            return LATER
        return f"{item} on run {runs[item]}"

    batches = Batches(decide)
    commit = GroupCommit(batches)
    first = await arrive(commit, PLUG, "again1", "b", "again2")
    await asyncio.wait_for(batches.plugged.wait(), HANG_GUARD)
    newcomer = await arrive(commit, "c")
    batches.release.set()
    # The put-off items keep their order and go before what arrived during their batch.
    assert await results([*first, *newcomer]) == [
        "plug on run 1", "again1 on run 2", "b on run 1", "again2 on run 2", "c on run 1"]
    assert batches.seen == [[PLUG, "again1", "b", "again2"], ["again1", "again2", "c"]]


async def test_a_later_item_still_counts_towards_the_next_batchs_limit():
    batches = Batches(lambda item: LATER if item == "b" and len(batches.seen) == 2 else item)
    commit = GroupCommit(batches, limit=2)
    plug = await plugged(commit, batches)
    callers = await arrive(commit, "a", "b", "c", "d")
    batches.release.set()
    assert await results([plug, *callers]) == [PLUG, "a", "b", "c", "d"]
    assert batches.seen == [[PLUG], ["a", "b"], ["b", "c"], ["d"]]


async def test_a_failing_batch_is_run_again_one_by_one_so_only_the_bad_item_fails():
    """The batch rolled back whole, so each item is run again on its own: one bad item
    fails only its own caller, and the next batch runs as usual."""
    failure = RuntimeError("the transaction failed")

    def decide(item: str) -> str:
        if item == "bad":
            raise failure
        return f"done {item}"

    batches = Batches(decide)
    commit = GroupCommit(batches)
    plug = await plugged(commit, batches)
    mixed = await arrive(commit, "a", "bad", "b")
    batches.release.set()
    assert await results([plug]) == ["done plug"]
    assert await results(mixed) == ["done a", failure, "done b"]
    assert await asyncio.wait_for(commit.submit("later"), HANG_GUARD) == "done later"
    assert batches.seen == [[PLUG], ["a", "bad", "b"], ["a"], ["bad"], ["b"], ["later"]]


async def test_an_item_that_fails_alone_fails_its_caller_once():
    failure = RuntimeError("the transaction failed")

    def decide(item: str) -> str:
        raise failure

    batches = Batches(decide)
    commit = GroupCommit(batches)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(commit.submit("bad"), HANG_GUARD)
    assert batches.seen == [["bad"]]


async def test_a_caller_that_gives_up_mid_batch_leaves_its_item_in_and_the_others_served():
    batches = Batches()
    commit = GroupCommit(batches)
    quitter, stayer = await arrive(commit, PLUG, "stays")
    await asyncio.wait_for(batches.plugged.wait(), HANG_GUARD)
    quitter.cancel()
    batches.release.set()
    assert await results([stayer]) == ["done stays"]
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert batches.seen == [[PLUG, "stays"]]  # the batch ran with it, as one transaction
    assert await asyncio.wait_for(commit.submit("next"), HANG_GUARD) == "done next"


async def test_a_caller_that_gives_up_before_its_batch_starts_is_still_committed():
    """Cancelling a caller cancels its wait, not its item: the item is committed with
    its batch (the caller may have been cancelled only because its client hung up)."""
    batches = Batches()
    commit = GroupCommit(batches)
    plug = await plugged(commit, batches)
    before, quitter, after = await arrive(commit, "before", "quits", "after")
    quitter.cancel()
    batches.release.set()
    assert await results([plug, before, after]) == ["done plug", "done before", "done after"]
    assert quitter.cancelled()
    assert batches.seen == [[PLUG], ["before", "quits", "after"]]


async def test_a_caller_that_gives_up_while_put_off_is_run_with_the_next_batch():
    batches = Batches(lambda item: LATER if item == "b" and len(batches.seen) == 1 else item)
    commit = GroupCommit(batches)
    a, b = await arrive(commit, PLUG, "b")
    await asyncio.wait_for(batches.plugged.wait(), HANG_GUARD)
    (c,) = await arrive(commit, "c")
    b.cancel()
    batches.release.set()
    assert await results([a, c]) == [PLUG, "c"]
    assert b.cancelled()
    assert batches.seen == [[PLUG, "b"], ["b", "c"]]


async def test_with_parallel_two_a_second_batch_runs_while_the_first_is_held():
    batches = Batches()
    commit = GroupCommit(batches, parallel=2)
    plug = await plugged(commit, batches)
    assert await asyncio.wait_for(commit.submit("meanwhile"), HANG_GUARD) == "done meanwhile"
    assert not plug.done()
    batches.release.set()
    assert await results([plug]) == ["done plug"]


async def test_a_batch_does_not_run_in_its_first_callers_context():
    """A unit of work or a locale the first caller had set is not the whole batch's."""
    mark: contextvars.ContextVar[str] = contextvars.ContextVar("mark", default="none")
    batches = Batches(lambda item: mark.get())
    commit = GroupCommit(batches)

    async def caller() -> str:
        mark.set("the first caller's")
        return await commit.submit("x")

    assert await asyncio.wait_for(caller(), HANG_GUARD) == "none"


async def test_a_run_that_puts_off_its_first_item_fails_its_callers_instead_of_stranding_them():
    batches = Batches(lambda item: LATER)
    commit = GroupCommit(batches)
    (caller,) = await arrive(commit, "a")
    # Every other task here is the batch's runner: let it finish, however it ends.
    others = asyncio.all_tasks() - {asyncio.current_task(), caller}
    await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), HANG_GUARD)
    await asyncio.sleep(0)  # the caller's wake-up, if it was given one, has now run
    finished = caller.done()
    caller.cancel()  # a stranded caller is not left behind by the expected failure
    assert finished
    with pytest.raises(AssertionError, match="put off"):
        caller.result()
