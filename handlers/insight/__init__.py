"""Insight for operators: /stats, its charts and its export."""
