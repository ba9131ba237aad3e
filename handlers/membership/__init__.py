"""Paid membership as members see it: its terms, and help with payments."""
