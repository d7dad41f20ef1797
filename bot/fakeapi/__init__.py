"""A fake Telegram Bot API server for tests, benchmarks and the token-free local demo."""

from bot.fakeapi.server import (
    ApiError,
    BotAccount,
    CallbackAnswer,
    Chat,
    ControlError,
    FakeTelegram,
    FloodLimits,
    Stats,
    StoredMessage,
    UserAccount,
    WebhookConfig,
    command_entities,
    parse_entities,
    utf16_len,
)

__all__ = [
    "ApiError",
    "BotAccount",
    "CallbackAnswer",
    "Chat",
    "ControlError",
    "FakeTelegram",
    "FloodLimits",
    "Stats",
    "StoredMessage",
    "UserAccount",
    "WebhookConfig",
    "command_entities",
    "parse_entities",
    "utf16_len",
]
