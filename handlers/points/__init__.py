"""Points conversations: /points, /checkin and operators' /purchase."""
