"""Reward conversations: /rewards, /coupons, the catalogue editor and the counter."""
