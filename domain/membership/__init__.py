"""Paid membership (付费会员): plans members pay for each period, the payments kept once
each, and what an active plan gives (a tier floor, extra points, gated chats, a gift)."""
