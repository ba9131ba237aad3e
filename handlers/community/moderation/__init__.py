"""Moderation in any group the bot administers: warns, mutes, bans, antiflood, welcome,
captcha, reports and a log chat, as admins know them from the group bots of the field."""
