"""What the Official Account platform issued for us, shared by every worker through the
database: access tokens, service windows, member cards, QR scenes and uploads."""
