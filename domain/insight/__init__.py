"""Insight: figures of the programme computed from what is recorded."""
