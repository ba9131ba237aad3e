"""Storage: engines, the unit of work, SQLite specifics, group commit and migrations.

Capability packages ask the unit of work for what they need and never reach past it."""
