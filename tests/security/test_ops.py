"""/healthz and /metrics: no cookie, no session lookup, nothing personal, nothing to post to."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import aiohttp

from bot.i18n import Translator
from bot.storage import Database
from bot.web import WebServer


async def test_the_operator_paths_set_no_cookie_and_take_no_form(db: Database) -> None:
    server = WebServer(db, Translator("zh_CN"), ZoneInfo("Asia/Shanghai"), "127.0.0.1", 0)
    url = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/healthz", "/metrics"):
                # A forged session cookie is not even looked at: these paths never read the session.
                async with http.get(url + path, headers={"Cookie": "yishi_s=forged; yishi_b=x"}) as response:
                    assert response.status == 200
                    assert "Set-Cookie" not in response.headers
                    assert response.headers["Cache-Control"] == "no-store"
                async with http.post(url + path, data={"x": "1"}) as response:
                    assert response.status == 405  # nothing to submit here; no CSRF page, no state change
                    assert "Set-Cookie" not in response.headers
            async with http.get(url + "/") as page:  # the residents' pages still get their browser cookie
                assert "yishi_b" in page.cookies
    finally:
        await server.stop()
