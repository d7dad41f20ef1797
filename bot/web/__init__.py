"""The residents' web pages: a surface beside the chat transports, on the same services and ledger.

Server-rendered (aiohttp + Jinja2), every action a plain HTML form, so it works in WeChat's in-app
browser and on old phones without JavaScript. It calls ``bot.services`` directly, never the chat
handlers (ARCHITECTURE.md, "Adding a surface"); it only borrows their text builders for the same words.
"""

from __future__ import annotations

from datetime import tzinfo

from aiohttp import web

from bot.i18n import Translator
from bot.storage import Database
from bot.web import ops, pages
from bot.web.base import CONFIG, MAX_BODY, STATIC, Changed, WebConfig, guard


def create_app(db: Database, translator: Translator, tz: tzinfo, base_url: str | None = None,
               changed: Changed | None = None, leader: ops.Leader | None = None) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[CONFIG] = WebConfig(db, translator, tz, base_url, changed)
    pages.add_routes(app)
    ops.add_routes(app, ops.Ops(db, leader))
    app.router.add_static("/static/", STATIC, append_version=False)
    return app


class WebServer:
    """The pages on ``host:port`` (port 0: any free one); ``url`` once started. Also /healthz and /metrics."""

    def __init__(self, db: Database, translator: Translator, tz: tzinfo, host: str, port: int,
                 base_url: str | None = None, changed: Changed | None = None,
                 leader: ops.Leader | None = None) -> None:
        self.app = create_app(db, translator, tz, base_url, changed, leader)
        self.host, self.port = host, port
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        port = int(self.runner.addresses[0][1]) if self.runner.addresses else self.port  # WEB_PORT=0: the one bound
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
