"""Rendering queued notices in their member's language."""
