"""Campaign conversations: building, confirming and controlling a broadcast."""
