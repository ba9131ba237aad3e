"""What the SQLite shims borrow from SQLAlchemy and aiosqlite that neither promises.

domain/storage/sqlite_direct.py plans repeated statements with SQLAlchemy's own compiler
and reads private parts of its compiled statements and types. domain/storage/sqlite_inline.py
stands in for aiosqlite's connection, so it offers what SQLAlchemy's aiosqlite dialect reads
of one, private names included. Why that is worth it: domain/storage/__init__.py.

Each check looks at the installed library itself (a real compiled statement, a real engine,
the dialect's own source), and an upgrade that changes something relied on fails here with
the library, its version, what changed and which of our modules depends on it.
"""

from __future__ import annotations

import ast
import inspect
import sqlite3
import textwrap
from collections.abc import Iterable, Mapping
from contextlib import closing
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    exc,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import aiosqlite as sqlalchemy_aiosqlite

from domain.storage import sqlite_inline
from domain.storage.database import create_engine
from domain.storage.tables import UTCDateTime

ROOT = Path(__file__).resolve().parents[3]
SQLALCHEMY = f"SQLAlchemy {sqlalchemy.__version__}"
AIOSQLITE = f"aiosqlite {version('aiosqlite')}"
DIRECT = "domain/storage/sqlite_direct.py"
INLINE = "domain/storage/sqlite_inline.py"
FIX = "update the shim or drop it"
DIALECT = sqlite.dialect()
WHEN = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
WHEN_TEXT = "2026-03-10 09:30:00.000000"

T = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String),
          Column("at", UTCDateTime), Column("born", DateTime), Column("tags", JSON, default=dict))


def changed(what: str, reader: str, why: str) -> str:
    return f"{SQLALCHEMY} {what}, which {reader} reads {why}: {FIX}"


# --- domain/storage/sqlite_direct.py: SQLAlchemy's compiled statements and types -----------


def test_compiled_statements_list_their_result_columns_as_read():
    compiled = select(T.c.id, T.c.at).compile(dialect=DIALECT)
    why = "to name and convert result rows"
    assert hasattr(compiled, "_result_columns"), \
        changed("no longer has Compiled._result_columns", DIRECT, why)
    entries = list(compiled._result_columns)
    assert len(entries) == 2 and all(len(entry) >= 4 for entry in entries), \
        changed("changed the shape of Compiled._result_columns (one entry per column, "
                "at least 4 fields)", DIRECT, why)
    assert [entry[0] for entry in entries] == ["id", "at"], \
        changed("no longer puts the column's key first in a _result_columns entry", DIRECT, why)
    assert isinstance(entries[0][3], Integer) and isinstance(entries[1][3], UTCDateTime), \
        changed("no longer puts the column's type fourth in a _result_columns entry",
                DIRECT, why)
    assert not insert(T).compile(dialect=DIALECT)._result_columns, \
        changed("lists result columns for a statement returning no rows", DIRECT,
                "to tell whether rows come back")
    assert insert(T).returning(T.c.id).compile(dialect=DIALECT)._result_columns, \
        changed("lists no result columns for INSERT ... RETURNING", DIRECT,
                "to tell whether rows come back")


def test_compiled_statements_keep_bind_processors_by_name_in_positional_order():
    compiled = insert(T).compile(dialect=DIALECT, column_keys=["name", "at", "born"])
    why = "to convert parameters the way SQLAlchemy would"
    procs = getattr(compiled, "_bind_processors", None)
    assert isinstance(procs, Mapping), \
        changed("no longer has Compiled._bind_processors as a mapping", DIRECT, why)
    to_text = procs.get("at")
    assert callable(to_text) and to_text(WHEN) == WHEN_TEXT, \
        changed("no longer keys Compiled._bind_processors by bind name", DIRECT, why)
    assert compiled.positiontup == ["name", "at", "born", "tags"] \
        and compiled.string.count("?") == len(compiled.positiontup), \
        changed("changed Compiled.positiontup (bind names in placeholder order)", DIRECT,
                "to order a statement's parameters")


@pytest.mark.parametrize(("type_", "expected"), [
    (UTCDateTime(), WHEN), (DateTime(), WHEN.replace(tzinfo=None))])
def test_types_give_their_cached_result_processor(type_, expected):
    method = getattr(type_, "_cached_result_processor", None)
    why = "to convert result values as SQLAlchemy would"
    assert callable(method), changed("no longer has TypeEngine._cached_result_processor",
                                     DIRECT, why)
    assert list(inspect.signature(method).parameters)[:2] == ["dialect", "coltype"], \
        changed("changed TypeEngine._cached_result_processor(dialect, coltype)", DIRECT, why)
    process = method(DIALECT, None)
    assert callable(process) and process(WHEN_TEXT) == expected, \
        changed(f"changed what {type(type_).__name__}._cached_result_processor gives",
                DIRECT, why)


def test_construct_params_can_skip_its_check_and_otherwise_names_a_missing_parameter():
    compiled = select(T.c.id).where(T.c.id == bindparam("b_id")).limit(5).compile(
        dialect=DIALECT)
    why = "to collect a statement's constant parameters once, when it plans it"
    assert "_check" in inspect.signature(compiled.construct_params).parameters, \
        changed("no longer has Compiled.construct_params(_check=...)", DIRECT, why)
    constants = compiled.construct_params({}, _check=False)
    assert constants.get("b_id", "absent") is None and 5 in constants.values(), \
        changed("changed what construct_params({}, _check=False) returns (the statement's "
                "constants, None for what the caller must give)", DIRECT, why)
    assert compiled.binds["b_id"].required, \
        changed("no longer marks a bindparam without a value as required", DIRECT,
                "to tell which parameters a call must give")
    with pytest.raises(exc.InvalidRequestError, match="b_id"):
        compiled.construct_params({})  # sqlite_direct lets this raise SQLAlchemy's own error


def test_statements_say_whether_they_return_rows():
    why = "to send many parameter sets with RETURNING to SQLAlchemy's own batches"
    for statement in (insert(T), insert(T).returning(T.c.id), insert(T).return_defaults()):
        assert hasattr(statement, "_returning") and hasattr(statement, "_return_defaults"), \
            changed("no longer has Insert._returning and Insert._return_defaults", DIRECT, why)
    assert insert(T).returning(T.c.id)._returning and not insert(T)._returning, \
        changed("changed what Insert._returning holds", DIRECT, why)
    assert insert(T).return_defaults()._return_defaults and not insert(T)._return_defaults, \
        changed("changed what Insert._return_defaults holds", DIRECT, why)


def test_a_callable_default_keeps_the_function_it_wraps():
    default = T.c.tags.default
    assert default is not None and default.is_callable \
        and getattr(default.arg, "__wrapped__", None) is dict, \
        changed("no longer keeps `default=dict` as ColumnDefault.arg.__wrapped__", DIRECT,
                "to fill such defaults itself (without it those inserts take SQLAlchemy's "
                "slower path, still correct)")


# --- domain/storage/sqlite_inline.py: what SQLAlchemy's aiosqlite dialect reads of a
# --- driver connection (aiosqlite's, or ours in its place) --------------------------------

# Each private name the dialect reads of aiosqlite's connection, and what it expects there.
IMITATED = {
    "_conn": "the sqlite3 connection, whose isolation_level it sets",
    "_tx": "aiosqlite's request queue, handed (future, function) to run",
    "_connection": "tested for truth before commit and rollback",
}
# What the dialect reads of a driver cursor that SQLite never needs: several result sets,
# and input sizes (only for dialects that set them).
CURSOR_NEVER_CALLED = {"nextset", "setinputsizes"}


def _read_of(holder: str, classes: Iterable[type]) -> dict[str, str]:
    """Attributes read of `self.<holder>` in these classes' source: name -> where."""
    found: dict[str, str] = {}
    for cls in classes:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == holder and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "self"):
                found.setdefault(node.attr, f"{cls.__module__}.{cls.__qualname__}")
    return found


def _sqlalchemys(cls: type) -> list[type]:
    return [c for c in cls.__mro__ if c.__module__.startswith("sqlalchemy.")]


CONNECTION_READS = _read_of(
    "_connection", _sqlalchemys(sqlalchemy_aiosqlite.AsyncAdapt_aiosqlite_connection))
CURSOR_READS = _read_of("_cursor", [
    *_sqlalchemys(sqlalchemy_aiosqlite.AsyncAdapt_aiosqlite_cursor),
    *_sqlalchemys(sqlalchemy_aiosqlite.AsyncAdapt_aiosqlite_ss_cursor)])


def test_the_dialect_reads_the_private_names_we_imitate_and_no_others():
    private = {name for name in CONNECTION_READS if name.startswith("_")}
    new = {name: CONNECTION_READS[name] for name in sorted(private - IMITATED.keys())}
    assert not new, (f"{SQLALCHEMY}'s aiosqlite dialect now reads {new} of aiosqlite's "
                     f"connection, which {INLINE}'s Connection does not imitate: {FIX}")
    gone = sorted(IMITATED.keys() - private)
    assert not gone, (f"{SQLALCHEMY}'s aiosqlite dialect no longer reads {gone} of aiosqlite's "
                      f"connection: {INLINE}'s Connection can stop imitating it")
    private_of_cursor = sorted(name for name in CURSOR_READS if name.startswith("_")
                               and not name.startswith("__"))
    assert not private_of_cursor, (
        f"{SQLALCHEMY}'s aiosqlite dialect now reads {private_of_cursor} of aiosqlite's "
        f"cursor, which {INLINE}'s Cursor does not imitate: {FIX}")


def test_our_connection_and_cursor_offer_everything_the_dialect_reads():
    with closing(sqlite3.connect(":memory:")) as raw:
        connection = sqlite_inline.Connection(raw, 0)
        cursor = connection.cursor()
        missing = {name: where for name, where in CONNECTION_READS.items()
                   if not hasattr(connection, name)}
        missing |= {name: where for name, where in CURSOR_READS.items()
                    if name not in CURSOR_NEVER_CALLED and not hasattr(cursor, name)}
    assert not missing, (f"{SQLALCHEMY}'s aiosqlite dialect now reads {missing}, which "
                         f"{INLINE}'s Connection or Cursor does not offer: {FIX}")


def test_the_dialect_hands_the_request_queue_a_future_and_a_function():
    tree = ast.parse(inspect.getsource(sqlalchemy_aiosqlite))
    puts = [node for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "put_nowait" and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "_tx"]
    assert puts and all(len(p.args) == 1 and isinstance(p.args[0], ast.Tuple)
                        and len(p.args[0].elts) == 2 for p in puts), (
        f"{SQLALCHEMY}'s aiosqlite dialect changed what it puts on aiosqlite's `_tx` queue "
        f"(a (future, function) pair), which {INLINE}'s _Queue runs: {FIX}")


def test_the_dialect_takes_sqlite3s_own_exception_classes():
    """The dialect takes its error classes from aiosqlite, and our connection raises
    sqlite3's: SQLAlchemy wraps only what it knows, and a lost race must surface as
    IntegrityError for again_on_conflict to run the transaction again."""
    dbapi = create_engine("sqlite+aiosqlite:///:memory:").dialect.dbapi
    for name in ("Error", "DatabaseError", "IntegrityError", "OperationalError",
                 "ProgrammingError", "NotSupportedError"):
        assert getattr(dbapi, name) is getattr(sqlite3, name), (
            f"{AIOSQLITE} has an {name} of its own, which {SQLALCHEMY}'s aiosqlite dialect "
            f"now expects, but {INLINE} raises sqlite3's: {FIX}")


async def test_through_sqlalchemy_our_connection_commits_sets_isolation_and_raises(tmp_path):
    """The same contract, end to end: SQLAlchemy commits only while `_connection` is
    truthy, sets the isolation level through `_tx` on `_conn`, and wraps our errors."""
    path = tmp_path / "shim.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(T.metadata.create_all)
            await conn.execute(insert(T).values(id=1, name="kept"))
        with closing(sqlite3.connect(path)) as plain:
            assert plain.execute("SELECT name FROM t").fetchall() == [("kept",)], \
                f"{SQLALCHEMY} did not commit through {INLINE}'s Connection"
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, sqlite_inline.Connection)
            assert raw._conn.isolation_level is None
            await conn.execution_options(isolation_level="SERIALIZABLE")
            assert raw._conn.isolation_level == "", \
                f"{SQLALCHEMY} set no isolation level through {INLINE}'s `_tx` queue"
        with pytest.raises(exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(T).values(id=1, name="again"))
    finally:
        await engine.dispose()


# --- Nobody else reaches for them ----------------------------------------------------------

PRIVATE_NAMES = frozenset({"_result_columns", "_bind_processors", "_cached_result_processor",
                           "_cached_bind_processor", "_returning", "_return_defaults",
                           *IMITATED})
PRIVATE_KEYWORDS = frozenset({"_check"})
SCANNED = ("bot", "handlers", "domain", "scheduler")
ALLOWED = "domain/storage/"


def private_uses(source: str, where: str) -> list[str]:
    """Uses of the names above: `x._name` (not of self or cls, which are our own),
    `_check=`, and the names as strings (getattr)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr in PRIVATE_NAMES
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg in PRIVATE_KEYWORDS:
            found.append((node.value.lineno, f"{node.arg}="))
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_NAMES:
            found.append((node.lineno, repr(node.value)))
    return [f"{where}:{line}: {what}" for line, what in sorted(found)]


def test_no_module_outside_storage_uses_these_private_names():
    found = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if not where.startswith(ALLOWED):
                found += private_uses(path.read_text(encoding="utf-8"), where)
    assert found == [], ("private names of SQLAlchemy or aiosqlite belong in domain/storage/ "
                         f"alone, where tests/domain/storage/test_private_names.py checks them: "
                         f"{found}")


def test_the_scan_catches_each_kind_of_use():
    source = textwrap.dedent("""
        columns = compiled._result_columns
        constants = compiled.construct_params({}, _check=False)
        returns = getattr(statement, "_returning", ())
        cursor = conn._conn.cursor()
        self._conn = None
    """)
    assert private_uses(source, "leak.py") == [
        "leak.py:2: ._result_columns", "leak.py:3: _check=", "leak.py:4: '_returning'",
        "leak.py:5: ._conn"]
