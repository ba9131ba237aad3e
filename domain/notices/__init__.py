"""Notices: what to tell a member outside a conversation."""
