"""WeChat Official Account adapter: webhook, replies, pushes, access token, member card."""
