"""Chat features written once against neutral types (bot.chat.port); no transport imports here."""
