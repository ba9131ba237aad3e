"""Tiers: evaluation, upgrades as points arrive, and the review at the end of a period."""
