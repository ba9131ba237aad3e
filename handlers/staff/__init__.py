"""Staff conversations: roles, the audit log and scheduled jobs."""
