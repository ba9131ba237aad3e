"""Rewards: the catalogue, redemption, coupons and the coupons the programme gives away."""
