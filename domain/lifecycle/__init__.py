"""Lifecycle: stages, birthday gifts, win-back coupons and expiry reminders."""
