"""Repeated Core statements run straight on the transaction's sqlite3 connection.

For a primary-key lookup SQLite takes about 2 µs, and SQLAlchemy's execution path
around it (async adaptation, a greenlet per statement, the execution context, result
metadata) about 50 µs: on a busy bot that was a third of a message's time. So a
statement object executed a second time gets a plan: SQL and bind order compiled
once by SQLAlchemy's own SQLite compiler, its own bind and result processors, its
scalar column defaults, and rows shaped like SQLAlchemy's (attributes, indexes,
`_mapping`). Database errors are raised as SQLAlchemy's exceptions.

What a plan cannot reproduce exactly keeps SQLAlchemy's path: expanding IN lists,
context-dependent defaults, and a statement object seen only once (most are built per
call and would only pay for compiling). A few parameter sets with RETURNING run one
by one, rows in the order given as SQLAlchemy returns them; more go to SQLAlchemy's
multi-row VALUES batches, which are faster then.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from domain.storage import sqlite_inline

FEW_RETURNING = 8
_NOT_YET = object()  # seen once: SQLAlchemy's path this time, a plan from the next
_UNFIT = object()  # cannot be planned: always SQLAlchemy's path
_plans: weakref.WeakKeyDictionary[ClauseElement, dict[Any, Any]] = weakref.WeakKeyDictionary()


class Rows:
    """The part of SQLAlchemy's Result that our repositories use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    fetchall = all

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self) -> Any:
        if not self._rows:
            raise exc.NoResultFound("No row was found when one was required")
        return self.one_or_none()

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> Rows:
        return Rows([row[0] for row in self._rows], self.rowcount)


class Plan:
    __slots__ = ("sql", "binds", "defaults", "row", "results", "returns", "constants",
                 "required", "compiled_params")

    def __init__(self, compiled: Any, binds: list[tuple[str, Callable[[Any], Any] | None]],
                 defaults: list[tuple[str, Callable[..., Any]]],
                 row: type | None, results: list[tuple[int, Callable[[Any], Any]]]) -> None:
        self.sql = compiled.string
        self.binds = binds
        self.defaults = defaults
        self.row = row
        self.results = results
        self.returns = row is not None
        # Values the statement carries itself (a literal 0, a limit) and the names
        # the caller must give; a call missing one gets SQLAlchemy's own error.
        self.constants = compiled.construct_params({}, _check=False)
        self.required = frozenset(name for name, bind in compiled.binds.items()
                                  if bind.required)
        self.compiled_params = compiled.construct_params

    def arguments(self, params: dict[str, Any]) -> tuple[Any, ...]:
        if self.defaults:
            params = {**{name: make() for name, make in self.defaults}, **params}
        if self.required <= params.keys():
            values = {**self.constants, **params}
        else:
            values = self.compiled_params(params)  # raises the missing-parameter error
        return tuple(values[name] if proc is None else proc(values[name])
                     for name, proc in self.binds)

    def shape(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        assert self.row is not None
        make = self.row._make  # type: ignore[attr-defined]
        if not self.results:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for index, proc in self.results:
                values[index] = proc(values[index])
            out.append(make(values))
        return out


def _row_class(names: Sequence[str]) -> type:
    base = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    keys = tuple(names)

    class Row(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(keys, self, strict=True))

    return Row


def _compile(statement: ClauseElement, keys: tuple[str, ...] | None,
             dialect: Dialect) -> Any:
    # Any: what follows reads the SQL compiler's own attributes, which its type does not
    # declare (tests/domain/storage/test_private_names.py checks them).
    compiled: Any = statement.compile(dialect=dialect,
                                      column_keys=list(keys) if keys else None)
    if any(b.expanding or b.literal_execute for b in compiled.binds.values()):
        return _UNFIT
    defaults = []
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.onupdate if compiled.isupdate else column.default
        if default is None:
            return _UNFIT
        if default.is_scalar:
            value = default.arg
            defaults.append((column.key, lambda value=value: value))
        elif default.is_callable and getattr(default.arg, "__wrapped__", None) in (dict, list):
            make = default.arg.__wrapped__
            defaults.append((column.key, make))
        else:
            return _UNFIT
    returns = bool(compiled._result_columns)
    if not returns and not (compiled.isinsert or compiled.isupdate or compiled.isdelete):
        return _UNFIT  # text() and the like: whether rows come back is not known here
    procs = compiled._bind_processors
    binds = [(name, procs.get(name)) for name in compiled.positiontup or ()]
    row = results = None
    if returns:
        columns = compiled._result_columns
        row = _row_class([c[0] for c in columns])
        results = []
        for index, column in enumerate(columns):
            proc = column[3]._cached_result_processor(dialect, None)
            if proc is not None:
                results.append((index, proc))
    return Plan(compiled, binds, defaults, row, results or [])


def _returns(statement: ClauseElement) -> bool:
    return bool(getattr(statement, "_returning", ())) or \
        bool(getattr(statement, "_return_defaults", False))


def find(statement: ClauseElement, params: Any, dialect: Dialect) -> Any:
    """A plan, or None for SQLAlchemy's path."""
    if sqlite_inline.is_offloaded():
        return None
    many = isinstance(params, list)
    if many and not params:
        return None
    if many and len(params) > FEW_RETURNING and _returns(statement):
        return None
    first = params[0] if many else params
    keys = tuple(first) if first else None
    try:
        plans = _plans.get(statement)
    except TypeError:
        return None
    if plans is None:
        _plans[statement] = {}
        return None
    found = plans.get(keys, _NOT_YET)
    if found is _NOT_YET:
        found = plans[keys] = _compile(statement, keys, dialect)
    return None if found is _UNFIT else found


async def run(conn: sqlite_inline.Connection, plan: Plan, params: Any) -> Rows:
    cursor = conn._conn.cursor()
    args: Any = None
    try:
        if isinstance(params, list) and plan.returns:
            rows, count = [], 0
            for one in params:
                args = plan.arguments(one)
                await sqlite_inline.retrying(partial(cursor.execute, plan.sql, args),
                                             conn.wait)
                rows.extend(plan.shape(cursor.fetchall()))
                count += cursor.rowcount
            return Rows(rows, count)
        if isinstance(params, list):
            args = [plan.arguments(p) for p in params]
            await sqlite_inline.retrying(lambda: cursor.executemany(plan.sql, args), conn.wait)
            return Rows([], cursor.rowcount)
        args = plan.arguments(params or {})
        await sqlite_inline.retrying(lambda: cursor.execute(plan.sql, args), conn.wait)
        rows = plan.shape(cursor.fetchall()) if plan.returns else []
        return Rows(rows, cursor.rowcount)
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(plan.sql, args, error, sqlite3.Error) from error
    finally:
        cursor.close()
