"""Chat features written once against neutral types (bot.handlers.types); no transport imports here."""
