"""The member programme itself: members, points, tiers, check-in.

Nothing here knows about chat platforms or about the other layers. Services take a
unit of work and return plain values or codes; wording is the handlers' business.
"""
