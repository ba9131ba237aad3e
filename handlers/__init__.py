"""Platform-neutral conversations: an Inbound goes in, Replies come out.

Handlers never send anything and never import a chat SDK; adapters in bot/ turn
platform updates into Inbound and Replies into platform messages.
"""
