"""Tier conversations: /tier."""
