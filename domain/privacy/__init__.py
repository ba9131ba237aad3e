"""Members' data rights: consent records, exports of their data, one-time downloads."""
