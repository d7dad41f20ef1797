"""The Bot API methods, their plumbing (dispatch, flood limits, updates) and webhook delivery."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import math
import mimetypes
import re
import secrets
from collections import deque
from typing import Any

import aiohttp

from bot.fakeapi.entities import (
    parse_entities,
    utf16_len,
)
from bot.fakeapi.errors import (
    ApiError,
    bad_request,
    forbidden,
    too_many_requests,
)
from bot.fakeapi.limits import (
    ACTIVE_STATUSES,
    COMMAND_NAME_RE,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_POLL_TIMEOUT,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    QUERY_INVALID,
    SCOPE_TYPES,
    SECRET_TOKEN_RE,
    WRONG_FILE_ID,
)
from bot.fakeapi.models import (
    BotAccount,
    CallbackAnswer,
    Chat,
    StoredFile,
    StoredMessage,
    WebhookConfig,
    _now,
)
from bot.fakeapi.params import (
    ApiHandler,
    _as_int,
    _Params,
    _validate_inline_keyboard,
)


class BotApiMethods:
    """The Bot API side of :class:`~bot.fakeapi.server.FakeTelegram` (a mixin)."""

    # ------------------------------------------------------------------------- Bot API plumbing

    def _register_methods(self) -> None:
        handlers: dict[str, ApiHandler] = {
            "getMe": self._api_get_me,
            "getUpdates": self._api_get_updates,
            "sendMessage": self._api_send_message,
            "sendPhoto": self._api_send_photo,
            "sendDocument": self._api_send_document,
            "getFile": self._api_get_file,
            "editMessageText": self._api_edit_message_text,
            "editMessageReplyMarkup": self._api_edit_message_reply_markup,
            "deleteMessage": self._api_delete_message,
            "answerCallbackQuery": self._api_answer_callback_query,
            "sendChatAction": self._api_send_chat_action,
            "setMyCommands": self._api_set_my_commands,
            "getMyCommands": self._api_get_my_commands,
            "deleteMyCommands": self._api_delete_my_commands,
            "getChat": self._api_get_chat,
            "getChatMember": self._api_get_chat_member,
            "getChatAdministrators": self._api_get_chat_administrators,
            "getChatMemberCount": self._api_get_chat_member_count,
            "setWebhook": self._api_set_webhook,
            "deleteWebhook": self._api_delete_webhook,
            "getWebhookInfo": self._api_get_webhook_info,
            "close": self._api_true,
            "logOut": self._api_true,
            "setMyDescription": self._api_true,
            "setMyShortDescription": self._api_true,
            "setMyName": self._api_true,
            "setChatMenuButton": self._api_true,
        }
        # Telegram method names are case-insensitive.
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def call_api(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call as ``token``; returns (HTTP status, Telegram envelope)."""
        bot = self.bots.get(token)
        if bot is None:
            self.stats.errors[401] += 1
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        entry = self._methods.get(method.lower())
        self.stats.calls[entry[0] if entry else method] += 1
        if entry is None:
            self.stats.errors[404] += 1
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        name, handler = entry
        try:
            p = _Params(params)
            self._apply_injection(bot, name.lower(), p)
            result = await handler(bot, p)
        except ApiError as exc:
            self.stats.errors[exc.code] += 1
            if exc.code == 429:
                self.stats.too_many_requests += 1
            return exc.code, exc.envelope()
        return 200, {"ok": True, "result": result}

    def _apply_injection(self, bot: BotAccount, method: str, p: _Params) -> None:
        chat_id = _as_int(p.raw.get("chat_id"))
        for injection in self._injections:
            if injection.bot_id not in (None, bot.id):
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            if injection.methods is None and method == "getupdates":
                continue
            if injection.methods is not None and method not in injection.methods:
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            raise too_many_requests(injection.retry_after)

    def _consume_flood(self, bot: BotAccount, chat: Chat) -> None:
        """Enforce the broadcast limits for a message-producing call; rejected calls cost nothing."""
        limits = self.flood_limits
        if limits is None:
            return
        now = self._clock()
        state = bot.flood
        while state.recent and state.recent[0] <= now - 1.0:
            state.recent.popleft()
        waits: list[float] = []
        if len(state.recent) >= limits.global_per_second:
            waits.append(state.recent[0] + 1.0 - now)
        tokens = float(limits.private_burst)
        window: deque[float] | None = None
        if chat.type == "private":
            tokens, updated = state.private_buckets.get(chat.id, (float(limits.private_burst), now))
            tokens = min(float(limits.private_burst), tokens + (now - updated) * limits.private_per_second)
            if tokens < 1.0:
                waits.append((1.0 - tokens) / limits.private_per_second)
        else:
            window = state.group_windows.setdefault(chat.id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limits.group_per_minute:
                waits.append(window[0] + 60.0 - now)
        if waits:
            raise too_many_requests(max(1, math.ceil(max(waits))))
        state.recent.append(now)
        if window is not None:
            window.append(now)
        else:
            state.private_buckets[chat.id] = (tokens - 1.0, now)

    def _lookup_chat(self, raw: Any) -> Chat | None:
        if isinstance(raw, str) and raw.startswith("@"):
            # Only public groups are addressable by @username; users are not.
            name = raw[1:].lower()
            found = (
                c for c in self.chats.values() if c.type != "private" and (c.username or "").lower() == name
            )
            return next(found, None)
        chat_id = _as_int(raw)
        return None if chat_id is None else self.chats.get(chat_id)

    def _api_chat(self, bot: BotAccount, p: _Params, *, write: bool) -> Chat:
        """Resolve chat_id the way Telegram does for this bot, with Telegram's refusals."""
        raw = p.raw.get("chat_id")
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self._lookup_chat(raw)
        chat_id = _as_int(raw)
        if chat is None or (chat.type == "private" and chat.bot_id != bot.id):
            if write and chat_id is not None and chat_id in self.users and chat_id > 0:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to}
            )
        if chat.type == "private":
            if write and (bot.id, chat.id) in self._blocked:
                raise forbidden("bot was blocked by the user")
            return chat
        status = chat.members.get(bot.id)
        if status in ACTIVE_STATUSES:
            return chat
        if not write:
            raise bad_request("chat not found")
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        raise forbidden(f"bot is not a member of the {kind}")

    def _text_param(self, p: _Params) -> tuple[str, list[dict[str, Any]], str | None]:
        raw = p.get_str("text") or ""
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json("entities")
        if explicit:
            text, entities = raw, list(explicit)
        else:
            text, entities = parse_entities(raw, parse_mode)
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return text, entities, parse_mode

    def _markup_param(self, p: _Params) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Split reply_markup into (inline keyboard as Telegram returns it, any other keyboard)."""
        markup = p.get_json("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return _validate_inline_keyboard(markup["inline_keyboard"]), None
        if any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            return None, markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _reply_param(self, chat: Chat, p: _Params) -> StoredMessage | None:
        parameters = p.get_json("reply_parameters")
        if isinstance(parameters, dict):
            message_id = _as_int(parameters.get("message_id"))
            allow_missing = bool(parameters.get("allow_sending_without_reply"))
        else:
            message_id = p.get_int("reply_to_message_id")
            allow_missing = p.get_bool("allow_sending_without_reply")
        if not message_id:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _editable_message(self, bot: BotAccount, p: _Params) -> tuple[Chat, StoredMessage]:
        if p.present("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not part of the fake
        chat = self._api_chat(bot, p, write=True)
        message_id = p.get_int("message_id")
        if not message_id:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if message.sender_id != bot.id:
            raise bad_request("message can't be edited")
        return chat, message

    def _commands_key(self, scope: Any, language_code: str | None) -> str:
        if scope in (None, ""):
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("can't parse BotCommandScope JSON object")
        parts = [scope["type"]]
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            chat = self._lookup_chat(scope.get("chat_id"))
            if chat is None:
                raise bad_request("chat not found")
            parts.append(str(chat.id))
        if scope["type"] == "chat_member":
            user_id = _as_int(scope.get("user_id"))
            if user_id is None or user_id not in self.users:
                raise bad_request("user not found")
            parts.append(str(user_id))
        language = language_code or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return f"{':'.join(parts)}|{language}"

    # ----------------------------------------------------------------------- Bot API methods

    async def _api_true(self, bot: BotAccount, p: _Params) -> bool:
        return True

    async def _api_get_me(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        return bot.get_me()

    async def _api_get_updates(self, bot: BotAccount, p: _Params) -> list[dict[str, Any]]:
        if bot.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset", 0) or 0
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = min(max(p.get_int("timeout", 0) or 0, 0), MAX_POLL_TIMEOUT)
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) or None
        # Confirmation: a later call with offset > update_id forgets that update for good.
        if offset > 0:
            bot.pending = [u for u in bot.pending if u["update_id"] >= offset]
        elif offset < 0:
            bot.pending = bot.pending[offset:]
        self._changed.fire()  # wait_for() callers may be waiting for the queue to drain
        # A newer getUpdates terminates an older one still waiting, exactly like Telegram.
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.signal.fire()
        await bot.signal.wait_until(
            lambda: (
                bool(bot.pending)
                or bot.poll_generation != generation
                or bot.webhook is not None
                or self._closing
            ),
            timeout,
        )
        if bot.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if bot.webhook is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        return copy.deepcopy(bot.pending[:limit])

    async def _api_send_message(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=True)
        text, entities, parse_mode = self._text_param(p)
        inline, other = self._markup_param(p)
        reply_to = self._reply_param(chat, p)
        self._consume_flood(bot, chat)
        message = self._store(
            chat,
            bot.user,
            text=text,
            entities=entities,
            reply_markup=inline,
            reply_keyboard=other,
            reply_to=reply_to,
            parse_mode=parse_mode,
        )
        return message.to_api()

    def _photo_param(self, p: _Params) -> list[StoredFile]:
        """The photo to send: a file id Telegram keeps (any of its sizes), or a new upload."""
        raw = p.raw.get("photo")
        if raw in (None, ""):
            raise bad_request("there is no photo in the request")
        if isinstance(raw, str):
            if raw.startswith(("http://", "https://", "attach://")):
                raise bad_request(WRONG_FILE_ID)  # the fake fetches nothing from the Internet
            sizes = self.files.get(raw)
            if sizes is None:
                raise bad_request(WRONG_FILE_ID)
            return sizes
        # A multipart upload (aiohttp FileField): Telegram stores it and makes its sizes.
        content = raw.file.read() if hasattr(raw, "file") else b""
        if not content:
            raise bad_request("file must be non-empty")
        if len(content) > 10 * 1024 * 1024:  # sendPhoto: "The photo must be at most 10 MB in size."
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        return self.add_photo(len(content))

    async def _api_send_photo(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=True)
        sizes = self._photo_param(p)
        raw = p.get_str("caption") or ""
        parse_mode = p.get_str("parse_mode") or None
        explicit = p.get_json("caption_entities")
        caption, entities = (raw, list(explicit)) if explicit else parse_entities(raw, parse_mode)
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        inline, other = self._markup_param(p)
        reply_to = self._reply_param(chat, p)
        self._consume_flood(bot, chat)
        message = self._store(
            chat,
            bot.user,
            photo=[f.photo_size() for f in sizes],
            caption=caption or None,
            caption_entities=entities if caption else [],
            reply_markup=inline,
            reply_keyboard=other,
            reply_to=reply_to,
            parse_mode=parse_mode,
        )
        return message.to_api()

    async def _api_send_document(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        """sendDocument with a multipart upload (what Yishi sends: a generated file); a file id is refused."""
        chat = self._api_chat(bot, p, write=True)
        raw = p.raw.get("document")
        if isinstance(raw, str) and raw.startswith("attach://"):  # the upload in its own part (aiogram does this)
            raw = p.raw.get(raw.removeprefix("attach://"))
        if raw in (None, ""):
            raise bad_request("there is no document in the request")
        if isinstance(raw, str):
            raise bad_request(WRONG_FILE_ID)  # the fake keeps no earlier documents to send again
        content = raw.file.read() if hasattr(raw, "file") else b""
        if not content:
            raise bad_request("file must be non-empty")
        if len(content) > 50 * 1024 * 1024:  # Bot API: "bots can currently send files of up to 50 MB in size"
            raise bad_request("Request Entity Too Large")
        caption = p.get_str("caption") or ""
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        self._consume_flood(bot, chat)
        file = StoredFile(f"BQACAgUAAxkBAAI{secrets.token_urlsafe(24)}", f"AgAD{secrets.token_urlsafe(8)}",
                          len(content))
        name = getattr(raw, "filename", None) or "document"
        # Telegram names the type from the file's name when the upload says no more than "octet-stream".
        mime = getattr(raw, "content_type", None) or "application/octet-stream"
        if mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or mime
        message = self._store(
            chat, bot.user, caption=caption or None,
            document={"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_name": name,
                      "mime_type": mime, "file_size": len(content)},
            document_content=content,
        )
        return message.to_api()

    async def _api_get_file(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        file_id = p.get_str("file_id") or ""
        sizes = self.files.get(file_id)
        if sizes is None:
            raise bad_request("invalid file_id")
        found = next(f for f in sizes if f.file_id == file_id)
        if found.file_size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {"file_id": found.file_id, "file_unique_id": found.file_unique_id, "file_size": found.file_size,
                "file_path": f"photos/file_{found.file_unique_id}.jpg"}

    async def _api_edit_message_text(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat, message = self._editable_message(bot, p)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities, parse_mode = self._text_param(p)
        inline, other = self._markup_param(p)
        if other is not None:
            raise bad_request("REPLY_MARKUP_INVALID")
        # Omitting reply_markup in an edit removes the keyboard, so it is part of the comparison.
        if (text, entities, inline) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._consume_flood(bot, chat)
        message.edit_history.append(message.text)
        message.text, message.entities, message.reply_markup = text, entities, inline
        message.parse_mode, message.edit_date = parse_mode, _now()
        self._touch(chat)
        self._emit("edit", chat_id=chat.id, message=message.to_dict())
        return message.to_api()

    async def _api_edit_message_reply_markup(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat, message = self._editable_message(bot, p)
        inline, other = self._markup_param(p)
        if other is not None:
            raise bad_request("REPLY_MARKUP_INVALID")
        if inline == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup, message.edit_date = inline, _now()
        self._touch(chat)
        self._emit("edit", chat_id=chat.id, message=message.to_dict())
        return message.to_api()

    async def _api_delete_message(self, bot: BotAccount, p: _Params) -> bool:
        chat = self._api_chat(bot, p, write=True)
        message = chat.messages.get(p.get_int("message_id") or 0)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        own = message.sender_id == bot.id
        if (
            not own
            and chat.type != "private"
            and chat.members.get(bot.id) not in ("creator", "administrator")
        ):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self._touch(chat)
        self._emit("delete", chat_id=chat.id, message_id=message.message_id)
        return True

    async def _api_answer_callback_query(self, bot: BotAccount, p: _Params) -> bool:
        query_id = p.get_str("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.bot_id != bot.id or query_id in self.callback_answers:
            raise bad_request(QUERY_INVALID)
        text = p.get_str("text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            callback_query_id=query_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=text or None,
            show_alert=p.get_bool("show_alert"),
            url=p.get_str("url") or None,
            cache_time=p.get_int("cache_time", 0) or 0,
        )
        self.callback_answers[query_id] = answer
        self._emit("toast", **answer.__dict__)
        return True

    async def _api_send_chat_action(self, bot: BotAccount, p: _Params) -> bool:
        chat = self._api_chat(bot, p, write=True)
        action = p.get_str("action")
        if not action:
            raise bad_request("action is empty")
        self._emit("chat_action", chat_id=chat.id, bot_id=bot.id, action=action)
        return True

    async def _api_set_my_commands(self, bot: BotAccount, p: _Params) -> bool:
        commands = p.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not COMMAND_NAME_RE.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(p.get_json("scope"), p.get_str("language_code"))
        if cleaned:
            bot.commands[key] = cleaned
        else:
            bot.commands.pop(key, None)  # an empty list is how Telegram deletes them
        return True

    async def _api_get_my_commands(self, bot: BotAccount, p: _Params) -> list[dict[str, str]]:
        # Exact scope+language lookup: getMyCommands does not apply the client-side fallback chain.
        return list(bot.commands.get(self._commands_key(p.get_json("scope"), p.get_str("language_code")), []))

    async def _api_delete_my_commands(self, bot: BotAccount, p: _Params) -> bool:
        bot.commands.pop(self._commands_key(p.get_json("scope"), p.get_str("language_code")), None)
        return True

    async def _api_get_chat(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=False)
        return chat.to_api() | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _api_get_chat_member(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        chat = self._api_chat(bot, p, write=False)
        user = self.users.get(p.get_int("user_id") or 0)
        if user is None:
            raise bad_request("user not found")
        status = chat.members.get(user.id, "left")
        if chat.type == "private" and user.id == bot.id and (bot.id, chat.id) in self._blocked:
            status = "kicked"
        return self._member_api(user, status)

    async def _api_get_chat_administrators(self, bot: BotAccount, p: _Params) -> list[dict[str, Any]]:
        chat = self._api_chat(bot, p, write=False)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            self._member_api(self.users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def _api_get_chat_member_count(self, bot: BotAccount, p: _Params) -> int:
        chat = self._api_chat(bot, p, write=False)
        return sum(1 for status in chat.members.values() if status in ACTIVE_STATUSES)

    async def _api_set_webhook(self, bot: BotAccount, p: _Params) -> bool:
        url = p.get_str("url") or ""
        if not url:
            return await self._api_delete_webhook(bot, p)
        if not url.startswith(("https://", "http://")):
            # Telegram insists on HTTPS; the fake also takes http:// so tests can use local servers.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token") or None
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        allowed = p.get_json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) or None
        if p.get_bool("drop_pending_updates"):
            bot.pending.clear()
        bot.webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=p.get_int("max_connections", 40) or 40,
            ip_address=p.get_str("ip_address") or None,
        )
        self._restart_delivery(bot)
        bot.signal.fire()  # a waiting getUpdates now ends with 409
        self._changed.fire()
        return True

    async def _api_delete_webhook(self, bot: BotAccount, p: _Params) -> bool:
        if p.get_bool("drop_pending_updates"):
            bot.pending.clear()
        bot.webhook = None
        task = self._deliveries.pop(bot.id, None)
        if task is not None:
            task.cancel()
        bot.signal.fire()
        self._changed.fire()
        return True

    async def _api_get_webhook_info(self, bot: BotAccount, p: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.pending),
        }
        hook = bot.webhook
        if hook is None:
            return info
        info.update(url=hook.url, max_connections=hook.max_connections)
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.last_error_date is not None:
            info.update(last_error_date=hook.last_error_date, last_error_message=hook.last_error_message)
        if bot.allowed_updates:
            info["allowed_updates"] = sorted(bot.allowed_updates)
        return info

    # ----------------------------------------------------------------------- webhook delivery

    def _restart_delivery(self, bot: BotAccount) -> None:
        old = self._deliveries.pop(bot.id, None)
        if old is not None:
            old.cancel()
        self._deliveries[bot.id] = asyncio.get_running_loop().create_task(self._deliver_webhook(bot))

    async def _deliver_webhook(self, bot: BotAccount) -> None:
        """POST pending updates one at a time, in order; an update is confirmed by a 2xx reply."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        while True:
            await bot.signal.wait_until(
                lambda: bool(bot.pending) or bot.webhook is None or self._closing, None
            )
            hook = bot.webhook
            if hook is None or self._closing:
                return
            update = bot.pending[0]
            headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
            try:
                async with self._http.post(hook.url, json=update, headers=headers) as response:
                    if 200 <= response.status < 300:
                        if bot.pending and bot.pending[0] is update:
                            bot.pending.pop(0)
                            self._changed.fire()
                        await self._run_webhook_reply(bot, response)
                        continue
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc}"
            hook.last_error_date, hook.last_error_message = _now(), error
            self._changed.fire()
            await asyncio.sleep(self.webhook_retry_delay)

    async def _run_webhook_reply(self, bot: BotAccount, response: aiohttp.ClientResponse) -> None:
        """Telegram executes a method returned in the webhook response body (result is discarded)."""
        params: dict[str, Any] = {}
        with contextlib.suppress(ValueError, aiohttp.ClientError):
            if response.content_type == "application/json":
                body = await response.json()
                params = body if isinstance(body, dict) else {}
            elif response.content_type == "multipart/form-data":
                reader = aiohttp.MultipartReader.from_response(response)
                while (part := await reader.next()) is not None:
                    if isinstance(part, aiohttp.BodyPartReader) and part.name:
                        params[part.name] = await part.text()
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self.call_api(bot.token, method, params)
