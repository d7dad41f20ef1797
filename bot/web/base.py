"""What every page shares: settings, cookies, CSRF, security headers, templates, errors as pages."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.deliberation.errors import DomainError
from bot.handlers import errors
from bot.i18n import Translator, normalize_locale
from bot.services import web as signin
from bot.storage import Database
from bot.web import ops
from bot.web.text import Words

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
BROWSER_COOKIE = "yishi_b"  # random per browser: what the CSRF token is bound to
SESSION_COOKIE = "yishi_s"  # the signed-in session (only its hash is stored)
LANG_COOKIE = "yishi_lang"
BIG_COOKIE = "yishi_big"
MAX_BODY = 256 * 1024  # a form of this site is a few KB; a field 100 times too long still fits, to be refused
# No script, no inline style, nothing from elsewhere; forms post only here; never framed.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# The chat's live messages of a subject should be redrawn: (BALLOT, vote id) after a web ballot, (CARD,
# proposal id) after a web co-signature. The runtime hands the app's live messages in; tests may leave it out.
Changed = Callable[[str, int], None]


class WebConfig:
    """What the pages need to know about where they are served."""

    def __init__(self, db: Database, translator: Translator, tz: tzinfo, base_url: str | None = None,
                 changed: Changed | None = None) -> None:
        self.db = db
        self.changed: Changed = changed or (lambda _kind, _subject_id: None)
        self.i18n = translator
        self.tz = tz
        self.base_url = base_url
        self.secure = bool(base_url and base_url.startswith("https://"))
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                      autoescape=jinja2.select_autoescape(default=True),
                                      undefined=jinja2.StrictUndefined)


CONFIG: web.AppKey[WebConfig] = web.AppKey("config", WebConfig)
# Typed request keys where aiohttp has them (3.12+), plain names before.
_RequestKey: Any = getattr(web, "RequestKey", None)
BROWSER: Any = _RequestKey("browser", str) if _RequestKey else "browser"
MEMBER: Any = _RequestKey("member", object) if _RequestKey else "member"
FORM: Any = _RequestKey("form", object) if _RequestKey else "form"


def config(request: web.Request) -> WebConfig:
    return request.app[CONFIG]


def locale_of(request: web.Request) -> str:
    member = request.get(MEMBER)
    default = config(request).i18n.default_locale
    if member is not None and member.locale:
        return str(member.locale)
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("zh_CN", "en"):
        return chosen
    if member is not None and member.language_code:
        return normalize_locale(member.language_code, default)
    return default


def words(request: web.Request) -> Words:
    return Words(config(request).i18n, locale_of(request))


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    cfg = config(request)
    page = cfg.env.get_template(template).render(
        w=words(request), lang=locale_of(request), big=request.cookies.get(BIG_COOKIE) == "1",
        member=request.get(MEMBER), csrf=signin.csrf_token(cfg.db.keys, request[BROWSER]),
        path=request.path, **context)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def message(request: web.Request, text: str, status: int = 400) -> web.Response:
    """A clear page saying what happened; nothing was changed."""
    return render(request, "message.html", status=status, text=text)


def redirect(target: str) -> web.Response:
    """See other: after every POST, so reloading a page never submits a form twice."""
    return web.Response(status=303, headers={"Location": target})


def _cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                        secure=config(request).secure)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Cookies, the signed-in member, CSRF on every POST, security headers, and errors as pages."""
    if request.path in ops.PATHS:  # for machines: no cookie, no session lookup (it must answer without a database)
        return await handler(request)
    browser = request.cookies.get(BROWSER_COOKIE)
    fresh = not browser or len(browser) > 64
    request[BROWSER] = secrets.token_urlsafe(24) if fresh else browser
    request[MEMBER] = await signin.member_of_session(config(request).db, request.cookies.get(SESSION_COOKIE))
    try:
        if request.method == "POST":
            form = await request.post()
            request[FORM] = form
            given = form.get("csrf")
            if fresh or not isinstance(given, str) or not signin.csrf_ok(config(request).db.keys, browser, given):
                response: web.StreamResponse = message(request, words(request).csrf, 403)
            else:
                response = await handler(request)
        else:
            response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = message(request, words(request).too_long, 413)
    except web.HTTPNotFound:
        response = message(request, words(request).not_found, 404)
    except web.HTTPException as exc:  # a redirect (sign in first), or a refusal aiohttp made
        if exc.status >= 400:
            response = message(request, exc.reason, exc.status)
        else:
            response = redirect(exc.headers.get("Location", "/"))
    except DomainError as error:
        status = {"not_eligible": 403, "not_found": 404}.get(error.code, 400)
        response = message(request, explain(request, error), status)
    except Exception:  # noqa: BLE001 - a page, never a stack trace
        log.exception("web page %s failed", request.path)
        response = message(request, words(request).server_error, 500)
    if fresh:
        _cookie(response, request, BROWSER_COOKIE, request[BROWSER], 365 * 86400)
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"  # a sign-in link never leaks in a Referer
    headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    return response


def explain(request: web.Request, error: DomainError) -> str:
    """A refusal in the member's language: the chat's own sentences (bot.handlers.errors), plus the web's."""
    w = words(request)
    if isinstance(error, signin.SigninInvalid):
        return w(str(error.params.get("reason", "forged")))
    if error.params.get("reason") == "out_of_scope":
        return w.out_of_scope
    if error.code == "code_invalid":
        return w.code_invalid
    return w(errors.explain(error))


