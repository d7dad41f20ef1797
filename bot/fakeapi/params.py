"""Request parameters as Telegram reads them, and the JSON responses and request helpers."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.fakeapi.errors import (
    ControlError,
    bad_request,
)
from bot.fakeapi.limits import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_INLINE_BUTTONS,
)
from bot.fakeapi.models import BotAccount


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


class _Params:
    """Typed access to request fields, which arrive as JSON values or as (JSON-encoded) form strings."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def present(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value in (None, ""):
            return default
        number = _as_int(value)
        if number is None:
            raise bad_request(f"invalid {name} specified")
        return number

    def get_bool(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value


async def _read_request_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body, whatever the encoding (Telegram accepts all of them)."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        for key, value in form.items():
            params[key] = value  # file parts stay FileField objects; nothing here reads them
    return params




ApiHandler = Callable[[BotAccount, _Params], Awaitable[Any]]


def _validate_inline_keyboard(rows: Any) -> dict[str, Any] | None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    actions = (
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    )
    for button in buttons:
        if not isinstance(button, dict) or not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        if not any(key in button for key in actions):
            raise bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            size = len(str(button["callback_data"]).encode())
            if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
        if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")
    cleaned = [row for row in copy.deepcopy(rows) if row]
    # An empty inline keyboard is no keyboard at all in what Telegram reports back.
    return {"inline_keyboard": cleaned} if cleaned else None


def _json_response(status: int, payload: Any) -> web.Response:
    # Compact separators, like Telegram's own responses.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return web.Response(status=status, text=text, content_type="application/json")


def _ok(result: Any) -> web.Response:
    return _json_response(200, {"ok": True, "result": result})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = body.get(name)
    if kind is int and isinstance(value, str):
        value = _as_int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ControlError(f"{name} is required and must be {kind.__name__}")
    return value


def _path_int(request: web.Request, name: str) -> int:
    value = _as_int(request.match_info[name])
    if value is None:
        raise ControlError(f"{name} must be an integer")
    return value


def _query_int(request: web.Request, name: str, default: int) -> int:
    value = _as_int(request.query.get(name, default))
    return default if value is None else value
