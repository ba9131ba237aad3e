"""Points: the ledger and its lots, earning, check-in, purchases, refunds, imports and expiry."""
