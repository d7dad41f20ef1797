"""The token-free local room: the real bot, on a real runtime, talking HTTP to the in-repo Bot API
server, with the sample community imported and a browser page to act as its residents.

Nothing is mocked on Yishi's side: commands typed in the page go through the fake server's
getUpdates to aiogram or python-telegram-bot, then the handlers, services and SQLite, exactly as
they would from Telegram.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.deliberation.scope import Scope, ScopeLevel
from bot.fakeapi import FakeTelegram
from bot.i18n import Text, Translator, _
from bot.services.census import import_census, issue_codes
from bot.services.council import add_council_member
from bot.services.directory import Actor
from bot.services.rooms import bind_room
from bot.storage import Database
from bot.storage import communities as community_store
from bot.storage.migrate import upgrade
from bot.storage.rooms import bound_chat_ids
from bot.storage.updates import last_update_id

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_CENSUS = ROOT / "data" / "sample" / "census-sample.csv"
PERSONAS_FILE = ROOT / "data" / "sample" / "demo-personas.json"
STATIC = Path(__file__).resolve().parent / "static"
DEMO_TOKEN = "100000:local-demo-token"
BOT_USERNAME = "yishi_demo_bot"
LANGUAGE_CODES = {"zh_CN": "zh-hans", "en": "en"}

UI: dict[str, Text] = {
    "title": _("Yishi local room"),
    "acting_as": _("Acting as"),
    "rooms": _("Rooms"),
    "private_chat": _("Private chat with the bot"),
    "type_message": _("Type a message or a command, e.g. /help"),
    "send": _("Send"),
    "language": _("Language"),
    "invite_code": _("Invite code on your notice"),
    "empty_refused": _("A message cannot be empty."),
    "split_notice": _("Long message sent in {n} parts, as Telegram does."),
    "edited": _("edited"),
    "offline": _("Connection lost, retrying…"),
    "no_messages": _("No messages yet."),
    "ok": _("OK"),
    "request_failed": _("That did not work: {error}"),
}
ROLE_NAMES = {"owner": _("owner"), "resident": _("resident"), "moderator": _("council moderator")}


@dataclass(frozen=True, slots=True)
class Room:
    chat_id: int
    title: str
    scope: str


@dataclass
class DemoWorld:
    """What the page needs to know: the residents one can act as, and the rooms."""

    community: str
    personas: list[dict[str, Any]]
    rooms: list[Room]
    codes: dict[str, str]
    floors: dict[str, int]
    lang: str

    def state(self, translator: Translator, lang: str) -> dict[str, Any]:
        rooms_of = {p["id"]: self._rooms_of(p) for p in self.personas}
        personas = []
        for persona in self.personas:
            home = persona["home"]
            role = translator.render(ROLE_NAMES[persona["role"]], lang)
            label = role if home is None else translator.render(
                _("{role} · {home}, floor {floor}", role=role, home=home, floor=self.floors.get(home, "?")), lang)
            personas.append({"id": persona["id"], "name": persona["name"].get(lang) or persona["name"]["zh_CN"],
                             "role": label, "home": home,
                             "code": self.codes.get(home) if persona["role"] == "owner" else None,
                             "rooms": rooms_of[persona["id"]]})
        return {"lang": lang, "bot": {"id": int(DEMO_TOKEN.split(":")[0]), "username": BOT_USERNAME,
                                      "name": translator.render(_("Yishi"), lang)},
                "personas": personas,
                "rooms": [{"chat_id": r.chat_id, "title": r.title, "scope": r.scope} for r in self.rooms],
                "ui": {key: translator.template(text.msgid, lang) for key, text in UI.items()}}

    def _rooms_of(self, persona: dict[str, Any]) -> list[int]:
        if persona["role"] == "moderator":
            return [r.chat_id for r in self.rooms]
        homes = [persona["home"], *persona.get("also", [])]
        units = {"-".join(home.split("-")[:2]) for home in homes if home}
        return [r.chat_id for r in self.rooms if r.scope in units]


def room_id(index: int) -> int:
    return -1_000_000_000 - index


async def prepare(db: Database, data_dir: Path, fresh: bool) -> DemoWorld:
    """Import the sample community and bind one room per building unit, once; later starts reuse it."""
    spec = json.loads(PERSONAS_FILE.read_text(encoding="utf-8"))
    community = spec["community"]
    codes_file = data_dir / "codes.json"
    async with db.uow() as uow:
        exists = await community_store.by_name(uow, community) is not None
    moderator = next(p for p in spec["personas"] if p["role"] == "moderator")
    if not exists or fresh or not codes_file.exists():
        await import_census(db, community, SAMPLE_CENSUS.read_text(encoding="utf-8"))
        await add_council_member(db, community, "telegram", str(moderator["id"]))
        issued = await issue_codes(db, community)
        codes = {f"{c.building}-{c.unit}-{c.room}": c.code for c in issued}
        # The printed notices: kept for the demo only, since the database stores hashes.
        codes_file.write_text(json.dumps(codes, ensure_ascii=False, indent=1), encoding="utf-8")
    codes = json.loads(codes_file.read_text(encoding="utf-8"))
    async with db.uow() as uow:
        community_row = await community_store.by_name(uow, community)
        assert community_row is not None and community_row.id is not None  # imported above
        units = await community_store.building_units(uow, community_row.id)
    rooms = [Room(room_id(i + 1), f"{community} {b}-{u}", f"{b}-{u}") for i, (b, u) in enumerate(units)]
    assert community_row.id is not None
    actor = Actor("telegram", str(moderator["id"]))
    async with db.uow() as uow:
        bound = await bound_chat_ids(uow)
    for room in rooms:
        if str(room.chat_id) in bound:
            continue
        await bind_room(db, "telegram", str(room.chat_id), room.title, community_row.id,
                        Scope(ScopeLevel.UNIT, *room.scope.split("-")), actor)
    floors = {home: int(floor) for home, floor in _floors().items()}
    return DemoWorld(community, spec["personas"], rooms, codes, floors, "zh_CN")


def _floors() -> dict[str, str]:
    import csv

    with SAMPLE_CENSUS.open(encoding="utf-8") as handle:
        return {f"{r['building']}-{r['unit']}-{r['room']}": r["floor"] for r in csv.DictReader(handle)}


def populate(fake: FakeTelegram, world: DemoWorld, lang: str) -> None:
    fake.add_bot(DEMO_TOKEN, BOT_USERNAME, first_name="Yishi")
    for persona in world.personas:
        fake.add_user(persona["id"], persona["name"]["zh_CN"], language_code=LANGUAGE_CODES[lang])
        fake.add_private_chat(persona["id"])
    moderators = [p["id"] for p in world.personas if p["role"] == "moderator"]
    for room in world.rooms:
        members = [p["id"] for p in world.personas if room.chat_id in world._rooms_of(p)]
        fake.add_group(room.chat_id, room.title, members=members, admins=moderators)


def add_routes(app: web.Application, fake: FakeTelegram, world: DemoWorld, translator: Translator) -> None:
    async def index(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def static(request: web.Request) -> web.StreamResponse:
        path = (STATIC / request.match_info["name"]).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def state(request: web.Request) -> web.StreamResponse:
        lang = request.query.get("lang", world.lang)
        lang = lang if lang in LANGUAGE_CODES else world.lang
        return web.json_response({"ok": True, "result": world.state(translator, lang)},
                                 dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def set_lang(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        lang = body.get("lang") if isinstance(body, dict) else None
        if lang not in LANGUAGE_CODES:
            return web.json_response({"ok": False, "description": "lang is zh_CN or en"}, status=400)
        world.lang = lang
        for persona in world.personas:
            fake.users[persona["id"]].language_code = LANGUAGE_CODES[lang]
        return web.json_response({"ok": True, "result": {"lang": lang}})

    app.router.add_get("/", index)
    app.router.add_get("/demo/static/{name}", static)
    app.router.add_get("/demo/state", state)
    app.router.add_post("/demo/lang", set_lang)


async def run_demo(
    settings: Settings, *, transport: str = "aiogram", host: str = "127.0.0.1", port: int = 8080,
    fresh: bool = False, data_dir: Path = Path("data/demo"), stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print, ready: asyncio.Event | None = None,
) -> None:
    from bot.runtime import serve

    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "yishi-demo.db"
    if fresh:
        for path in data_dir.glob("yishi-demo.db*"):
            path.unlink()
        (data_dir / "codes.json").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{database}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        world = await prepare(db, data_dir, fresh)
        async with db.uow() as uow:
            last_update = await last_update_id(uow)
    finally:
        await db.dispose()
    world.lang = settings.DEFAULT_LOCALE
    fake = FakeTelegram(first_update_id=int(last_update) + 1)
    populate(fake, world, world.lang)
    add_routes(fake.app, fake, world, Translator(settings.DEFAULT_LOCALE))
    base_url = await fake.start(host, port)
    try:
        # The residents' web pages beside the room (on any free port when the room's port is too).
        local = settings.model_copy(update={"BOT_TOKEN": DEMO_TOKEN, "TELEGRAM_API_BASE": base_url,
                                            "DATABASE_URL": url, "TRANSPORT": transport, "WEB_HOST": host,
                                            "WEB_PORT": settings.WEB_PORT if port else 0})
        bot_ready = asyncio.Event()
        web_urls: list[str] = []
        serving = asyncio.create_task(serve(local, stop=stop, ready=bot_ready, on_web=web_urls.append))
        waiter = asyncio.create_task(bot_ready.wait())
        await asyncio.wait({serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            waiter.cancel()
            await serving  # raises what went wrong
            return
        announce(f"Yishi local room ({transport}): open {base_url}/ in a browser. Ctrl-C to stop; "
                 f"data stays in {data_dir} (--fresh starts over).")
        if web_urls:
            announce(f"Residents' web pages: {web_urls[0]}/ (send /web in a private chat for a sign-in link)")
        if ready is not None:
            ready.set()
        await serving
    finally:
        await fake.stop()
