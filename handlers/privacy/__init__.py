"""Members' privacy: consent (/privacy), their data (/mydata), and the owner's export."""
