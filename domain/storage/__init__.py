"""Storage: engines and the unit of work (database), SQLite shims (sqlite_inline,
sqlite_direct), WAL checkpoints off the loop (sqlite_checkpoints), long work in short
turns (turns), group commit, schema and migrations, and a SQLite file's backups and
restores (sqlite_backup, the scheduled `backups`, and sqlite_in_use, which says who
holds the file).

Capability packages ask the unit of work for what they need and never reach past it.

The SQLite shims are the one place that leans on what SQLAlchemy and aiosqlite do not
promise. sqlite_inline runs statements on the loop's own thread in place of aiosqlite's
worker thread, which costs more per statement than SQLite's own work; sqlite_direct runs
a repeated Core statement straight on sqlite3, past SQLAlchemy's execution path. They
earn their place (measured with benchmarks/):
- inbound chat updates, as a ratio of a bare echo bot's rate: 0.54-0.56
  with the shims, 0.38-0.48 on stock aiosqlite;
- the expiry job over 3,000 members: 2.4 s inline, with the loop held all the while,
  against 9.2 s on stock aiosqlite (worst loop lag 7.5 ms). Holding the loop is the price,
  so long jobs work in short turns and long reads go off it (UnitOfWork.off_loop).
What they borrow (SQLAlchemy's compiled-statement internals and the private names its
aiosqlite dialect reads of a driver connection) is checked, with the versions installed,
by tests/domain/storage/test_private_names.py: an upgrade that changes it fails there,
naming what changed and which shim reads it. Nothing outside this package may use them.
"""
