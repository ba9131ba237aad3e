"""The shop's HTTP API: purchases, refunds and coupon redemption, signed with HMAC."""
