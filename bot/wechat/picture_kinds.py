"""The pictures WeChat takes, checked before any upload and when the programme file
names one (bot/wechat/groups.py), without importing the API client."""

MAX_BYTES = 2 * 1024 * 1024  # the image limit WeChat has long documented
TYPES = ((b"\x89PNG", "png", "image/png"), (b"\xff\xd8", "jpg", "image/jpeg"),
         (b"GIF8", "gif", "image/gif"))
