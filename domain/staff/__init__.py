"""Staff: roles, the audit log and scheduled jobs as operators steer them."""
