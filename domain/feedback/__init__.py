"""Feedback: surveys members answer in chat (NPS, satisfaction, follow-ups)."""
