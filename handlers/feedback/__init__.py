"""Feedback conversations: answering surveys, and staff sending them."""
