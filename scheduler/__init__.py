"""APScheduler jobs that call domain services (birthdays, expiry, tier reviews).

Jobs arrive with the scheduler issue; nothing here yet, and nothing imports it.
"""
