"""Chat fakes shared by tests that feed the handlers directly (no runtime, no fake Bot API)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.chat.port import ButtonPress, CommandInfo, OutMessage, SentMessage


@dataclass
class Recorder:
    """A Messenger that keeps what the handlers asked for (the network edge, not our code)."""

    platform: str = "telegram"
    sent: list[tuple[str, OutMessage]] = field(default_factory=list)
    edits: list[tuple[str, str, OutMessage]] = field(default_factory=list)
    toasts: list[tuple[str, bool]] = field(default_factory=list)
    admins: set[str] = field(default_factory=set)
    photos: list[tuple[str, str, str]] = field(default_factory=list)  # chat id, file id, caption
    documents: list[tuple[str, str, bytes, str]] = field(default_factory=list)  # chat id, name, bytes, caption

    async def send(self, chat_id: str, message: OutMessage, *, reply_to: str | None = None) -> SentMessage:
        self.sent.append((chat_id, message))
        return SentMessage(chat_id, str(len(self.sent)))

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        self.edits.append((chat_id, message_id, message))

    async def send_photo(self, chat_id: str, file_id: str, caption: str) -> SentMessage:
        self.photos.append((chat_id, file_id, caption))
        return SentMessage(chat_id, f"p{len(self.photos)}")

    async def send_document(self, chat_id: str, filename: str, content: bytes, caption: str) -> SentMessage:
        self.documents.append((chat_id, filename, content, caption))
        return SentMessage(chat_id, f"d{len(self.documents)}")

    async def toast(self, press: ButtonPress, text: str, *, alert: bool = False) -> None:
        self.toasts.append((text, alert))

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        return user_id in self.admins

    async def set_commands(self, commands: list[CommandInfo], *, scope: str, language: str | None) -> None:
        pass
