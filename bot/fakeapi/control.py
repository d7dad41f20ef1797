"""The HTTP control API under ``/_fake/``: the JSON face of the in-process control methods."""

from __future__ import annotations

import json

from aiohttp import web

from bot.fakeapi.errors import ControlError
from bot.fakeapi.models import FloodLimits
from bot.fakeapi.params import (
    _field,
    _json_body,
    _ok,
    _path_int,
    _query_int,
)


class ControlEndpoints:
    """The ``/_fake/`` endpoints of :class:`~bot.fakeapi.server.FakeTelegram` (a mixin)."""

    # ------------------------------------------------------------------- HTTP control endpoints

    async def _http_state(self, request: web.Request) -> web.Response:
        return _ok(self.snapshot())

    async def _http_add_bot(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        account = self.add_bot(
            _field(body, "token", str), _field(body, "username", str), body.get("first_name")
        )
        return _ok(account.to_dict())

    async def _http_add_user(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        user = self.add_user(
            _field(body, "id", int),
            _field(body, "first_name", str),
            username=body.get("username"),
            last_name=body.get("last_name"),
            language_code=body.get("language_code"),
        )
        return _ok(user.to_api())

    async def _http_add_chat(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        kind = body.get("type", "group")
        if kind == "private":
            chat = self.add_private_chat(_field(body, "user_id", int), body.get("bot"))
        elif kind in ("group", "supergroup"):
            chat = self.add_group(
                _field(body, "id", int),
                _field(body, "title", str),
                members=body.get("members", []),
                admins=body.get("admins", []),
                creator=body.get("creator"),
                supergroup=kind == "supergroup",
                username=body.get("username"),
                bots=body.get("bots"),
            )
        else:
            raise ControlError("type must be private, group or supergroup")
        return _ok(chat.to_dict())

    async def _http_get_chat(self, request: web.Request) -> web.Response:
        return _ok(self._chat(_path_int(request, "chat_id")).to_dict())

    async def _http_messages(self, request: web.Request) -> web.Response:
        chat = self._chat(_path_int(request, "chat_id"))
        after = _query_int(request, "after", 0)
        include_deleted = request.query.get("include_deleted") in ("1", "true")
        found = self.messages(chat.id, include_deleted=include_deleted)
        return _ok([m.to_dict() for m in found if m.message_id > after])

    async def _http_set_member(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        chat_id = _path_int(request, "chat_id")
        self.set_member(chat_id, _field(body, "user_id", int), _field(body, "status", str))
        return _ok(self._chat(chat_id).to_dict())

    async def _http_send_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.send_text(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "text", str),
            body.get("reply_to"),
            bot=body.get("bot"),
        )
        return _ok(message.to_dict())

    async def _http_send_photo(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.send_photo(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            body.get("caption"),
            size=int(body.get("size", 150_000)),
            media_group_id=body.get("media_group_id"),
            bot=body.get("bot"),
        )
        return _ok(message.to_dict())

    async def _http_edit_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.edit_text(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "message_id", int),
            _field(body, "text", str),
        )
        return _ok(message.to_dict())

    async def _http_press_button(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        query_id = self.press_button(
            _field(body, "user_id", int),
            _field(body, "chat_id", int),
            _field(body, "message_id", int),
            _field(body, "callback_data", str),
        )
        return _ok({"callback_query_id": query_id})

    async def _http_callback_answer(self, request: web.Request) -> web.Response:
        query_id = request.match_info["query_id"]
        timeout = min(float(request.query.get("timeout", "0") or 0), 60.0)
        if timeout > 0:
            await self._changed.wait_until(
                lambda: query_id in self.callback_answers or self._closing, timeout
            )
        answer = self.callback_answers.get(query_id)
        return _ok(None if answer is None else answer.__dict__)

    async def _http_block(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.block_bot(_field(body, "user_id", int), body.get("bot"))
        return _ok(True)

    async def _http_unblock(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.unblock_bot(_field(body, "user_id", int), body.get("bot"))
        return _ok(True)

    async def _http_migrate(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        chat = self.migrate_group(_field(body, "old_chat_id", int), _field(body, "new_chat_id", int))
        return _ok(chat.to_dict())

    async def _http_inject(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        self.inject_retry_after(
            _field(body, "retry_after", int),
            int(body.get("count", 1)),
            chat_id=body.get("chat_id"),
            bot=body.get("bot"),
            methods=body.get("methods"),
        )
        return _ok(True)

    async def _http_flood(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if body.get("enabled", True):
            known = FloodLimits.__dataclass_fields__
            self.enable_flood_limits(FloodLimits(**{k: v for k, v in body.items() if k in known}))
        else:
            self.disable_flood_limits()
        return _ok(None if self.flood_limits is None else self.flood_limits.__dict__)

    async def _http_events(self, request: web.Request) -> web.Response:
        since = _query_int(request, "since", 0)
        timeout = min(float(request.query.get("timeout", "25") or 0), 60.0)
        events = await self.wait_events(since, timeout)
        return _ok({"events": events, "last_id": self._last_event_id})

    async def _http_stats(self, request: web.Request) -> web.Response:
        return _ok(self.stats.to_dict())

    async def _http_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return _ok(True)

    async def _http_updates(self, request: web.Request) -> web.Response:
        return _ok(self.pending_updates(request.match_info["bot"]))

    async def _http_commands(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope")
        commands = self.commands(
            request.match_info["bot"],
            scope=json.loads(scope) if scope else None,
            language_code=request.query.get("language_code", ""),
        )
        return _ok(commands)
