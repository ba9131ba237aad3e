"""Community conversations: gates on chats, /groups, join requests, who is in a chat."""
