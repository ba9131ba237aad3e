"""Member conversations: /start, /profile, /link, /language, /invite and operators' /tag."""
