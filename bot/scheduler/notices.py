"""Kept for code written against the old path: see bot.handlers.announcements and bot.services.broadcast."""

from bot.handlers.announcements import *  # noqa: F403
from bot.handlers.announcements import __all__  # noqa: F401
