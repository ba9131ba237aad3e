"""APScheduler jobs that call domain services (birthdays, win-back, expiry, tier
reviews, campaign starts): `registry` says what runs when, `service` runs them in the
one process that leads (`leader`)."""
