"""Kept for code written against the old path: the neutral chat types live in bot.chat.port."""

from bot.chat.port import *  # noqa: F403
from bot.chat.port import __all__  # noqa: F401
