"""Campaigns: segments, deliveries, attribution and points boosts."""
