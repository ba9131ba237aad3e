"""Members: sign-up, platform identities, profile, tags and referrals."""
