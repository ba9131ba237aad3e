"""Telegram adapter: rendering replies, sending them through aiogram or PTB, pacing."""
