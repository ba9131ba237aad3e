"""Community: chats whose entry a tier opens (gates), and who sits in them (seats)."""
