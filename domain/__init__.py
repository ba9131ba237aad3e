"""The member programme itself, one package per capability (members, conversations,
points, tiers, rewards, campaigns, lifecycle, staff, notices), each holding its rules
and its tables, on the storage package beside them.

Nothing here knows about chat platforms or about the other layers. Services take a
unit of work and return plain values or codes; wording is the handlers' business.
"""
