"""Conversations: where each chat user is in a flow, and every inbound delivery written
down before it is acknowledged."""
