"""The `yishi` command line (also `python -m bot`)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.config import Settings, SettingsError, load_settings
from bot.deliberation.errors import DomainError
from bot.deliberation.text import csv_row
from bot.storage import Database
from bot.storage.engine import is_sqlite
from bot.storage.keys import resolve_keys
from bot.storage.migrate import is_up_to_date, upgrade

app = typer.Typer(help="Yishi: residents' agenda and votes in their group chats.", no_args_is_help=True,
                  add_completion=False)
census_app = typer.Typer(help="Import the census of homes and owners; print invite codes.", no_args_is_help=True)
ledger_app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
council_app = typer.Typer(help="Members of the residents' council (moderators).", no_args_is_help=True)
app.add_typer(census_app, name="census")
app.add_typer(ledger_app, name="ledger")
community_app = typer.Typer(help="Per-community rules: co-signing threshold, windows, covenant.", no_args_is_help=True)
elevator_app = typer.Typer(help="Elevator matters: cost sharing.", no_args_is_help=True)
app.add_typer(council_app, name="council")
app.add_typer(community_app, name="community")
app.add_typer(elevator_app, name="elevator")

T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None


def prepare_database(config: Settings) -> None:
    """SQLite (the embedded default) is migrated automatically; PostgreSQL must be migrated on purpose."""
    if is_sqlite(config.DATABASE_URL):
        upgrade(config.DATABASE_URL)
        return
    try:
        ready = is_up_to_date(config.DATABASE_URL)
    except Exception as exc:  # noqa: BLE001 - any connection failure ends in the same advice
        raise fail(f"Cannot reach the database in DATABASE_URL: {exc.__class__.__name__}: {exc}", 2) from None
    if not ready:
        raise fail("The database schema is not up to date. Run `yishi migrate` first.", 2)


def with_db(config: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    prepare_database(config)

    async def _run() -> T:
        db = Database(config.DATABASE_URL, keys=resolve_keys(config.DATABASE_URL, config.LEDGER_KEY,
                                                              config.BALLOT_SECRET_KEY))
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(_run())
    except DomainError as exc:
        _print_problems(exc)
        raise fail(f"{exc.code}: {exc}") from None


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision."""
    config = settings()
    try:
        upgrade(config.DATABASE_URL)
    except Exception as exc:  # noqa: BLE001
        raise fail(f"Migration failed: {exc.__class__.__name__}: {exc}") from None
    typer.echo("Database schema is up to date.")


@app.command()
def run(
    webhook: Annotated[str | None, typer.Option(help="Public HTTPS URL for webhook mode (default: long polling).")]
    = None,
    demo_port: Annotated[int, typer.Option(help="Port of the local room started when BOT_TOKEN is not set.")]
    = 8080,
) -> None:
    """Run the bot."""
    config = settings()
    _logging(config)
    if config.BOT_TOKEN is None:
        typer.secho("BOT_TOKEN is not set: starting the local room instead (set BOT_TOKEN in .env, see "
                    ".env.example, to connect to Telegram).", err=True, fg=typer.colors.YELLOW)
        _demo(config, config.TRANSPORT, "127.0.0.1", demo_port, fresh=False)
        return
    prepare_database(config)
    from bot.runtime import serve

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, webhook=webhook))


class Runtime(StrEnum):
    aiogram = "aiogram"
    ptb = "ptb"


@app.command()
def demo(
    transport: Annotated[Runtime, typer.Option(help="aiogram or ptb.")] = Runtime.aiogram,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the local room (0: any free port).")] = 8080,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over with a new sample community.")] = False,
) -> None:
    """The token-free local room: the real bot and the sample community, in your browser."""
    _demo(settings(), transport.value, host, port, fresh=fresh)


def _demo(config: Settings, transport: str, host: str, port: int, *, fresh: bool) -> None:
    from bot.demo import run_demo

    _logging(config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(config, transport=transport, host=host, port=port, fresh=fresh,
                             announce=lambda line: typer.secho(line, fg=typer.colors.GREEN)))


def _logging(config: Settings) -> None:
    from bot.logs import setup

    setup(config.LOG_LEVEL, config.LOG_FORMAT)


# --- backup and restore -------------------------------------------------------------------------------


@app.command("backup")
def backup_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="The backup file to write (must not exist).")],
) -> None:
    """Back up the whole database (SQLite: online backup; PostgreSQL: pg_dump) while the bot may run."""
    from bot.storage.backup import BackupError, backup

    config = settings()
    try:
        backup(config.DATABASE_URL, output)
    except BackupError as exc:
        raise fail(f"Backup failed: {exc}") from None
    typer.echo(f"Backup written to {output}. Keep LEDGER_KEY and BALLOT_SECRET_KEY (or data/keys.env) with it: "
               "they are not in the database.")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A `yishi backup` file.")],
    force: Annotated[bool, typer.Option("--force", help="Replace a database that is not empty.")] = False,
) -> None:
    """Restore a backup into DATABASE_URL (refused when that database is not empty, unless --force)."""
    from bot.storage.backup import BackupError, restore

    config = settings()
    try:
        restore(config.DATABASE_URL, file, force=force)
    except BackupError as exc:
        raise fail(f"Restore failed: {exc}") from None
    typer.echo("Restored. Stop the bot while restoring; then `yishi ledger verify` (with the same keys).")


# --- census -----------------------------------------------------------------------------------------


@census_app.command("import")
def census_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Census CSV file.")],
    community: Annotated[str, typer.Option("--community", help="Community name, as imported.")],
    max_area: Annotated[int | None, typer.Option(
        min=1, max=10_000_000, help="Largest plausible area of one home in m² (default: CENSUS_MAX_AREA_M2).")] = None,
    min_floor: Annotated[int | None, typer.Option(
        min=-999, max=999, help="Lowest floor (default: CENSUS_MIN_FLOOR).")] = None,
    max_floor: Annotated[int | None, typer.Option(
        min=-999, max=999, help="Highest floor (default: CENSUS_MAX_FLOOR).")] = None,
) -> None:
    """Import homes, areas and owners from a census CSV (all or nothing)."""
    from bot.deliberation.census import CensusBounds
    from bot.services.census import import_census_file

    config = settings()
    bounds = CensusBounds(
        max_area_centi=(config.CENSUS_MAX_AREA_M2 if max_area is None else max_area) * 100,
        min_floor=config.CENSUS_MIN_FLOOR if min_floor is None else min_floor,
        max_floor=config.CENSUS_MAX_FLOOR if max_floor is None else max_floor,
    )
    if bounds.min_floor > bounds.max_floor:
        raise fail(f"--min-floor {bounds.min_floor} is above --max-floor {bounds.max_floor}")
    # The file is streamed, not read whole: a street of 100,000 homes imports in flat memory.
    try:
        report = with_db(config, lambda db: import_census_file(db, community, file, bounds))
    except UnicodeDecodeError:
        raise fail(f"{file}: not UTF-8 text") from None
    typer.echo(
        f"{report.community}: {report.created} created, {report.updated} updated, {report.unchanged} unchanged."
    )


@census_app.callback()
def _census() -> None:
    """Census commands."""


def _print_problems(exc: BaseException) -> None:
    problems = getattr(exc, "problems", [])
    for problem in problems:
        typer.secho(f"line {problem.line}: {problem.code}: {problem.detail}", err=True)
    unlisted = getattr(exc, "total", len(problems)) - len(problems)
    if unlisted > 0:
        typer.secho(f"... and {unlisted} more problem(s) not listed", err=True)


class CodeFormat(StrEnum):
    table = "table"
    csv = "csv"


@census_app.command("codes")
def census_codes(
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    format: Annotated[CodeFormat, typer.Option("--format", help="table or csv.")] = CodeFormat.table,
    scope: Annotated[str | None, typer.Option(help="Only this scope: 3 (building) or 3-2 (unit).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")] = None,
) -> None:
    """Issue one-time invite codes, one per home; earlier unused codes stop working."""
    from bot.services.census import issue_codes

    config = settings()
    codes = with_db(config, lambda db: issue_codes(db, community, scope))
    buffer = io.StringIO()
    if format is CodeFormat.csv:
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["building", "unit", "room", "code"])
        writer.writerows(csv_row([c.building, c.unit, c.room, c.code]) for c in codes)
    else:
        for c in codes:
            buffer.write(f"{c.building}-{c.unit}-{c.room}\t{c.code}\n")
    if output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        output.write_text(buffer.getvalue(), encoding="utf-8")
        typer.echo(f"{len(codes)} codes written to {output}", err=True)


# --- ledger -----------------------------------------------------------------------------------------


@ledger_app.command("verify")
def ledger_verify(
    head: str | None = typer.Option(None, "--head", help="a head the council kept (HASH or SEQ:HASH)"),
) -> None:
    """Walk the keyed hash chain, check every ballot, result and registration row against it, and a kept head."""
    from bot.services.ledger import verify_all

    config = settings()
    report = with_db(config, lambda db: verify_all(db, head))
    for problem in report.problems:
        typer.echo(f"MISMATCH {problem}", err=True)
    if report.broken is not None:
        raise fail(f"Ledger BROKEN at entry {report.broken.seq} ({report.broken.reason}); "
                   f"{report.checked} entries read.")
    if report.problems:
        raise fail(f"Ledger chain intact ({report.checked} entries) but {len(report.problems)} problems found.")
    typer.echo(f"Ledger OK: {report.checked} entries verified, rows match"
               + (f", kept head {head} found." if head else "."))


@ledger_app.command("rekey")
def ledger_rekey() -> None:
    """Re-chain a ledger from before LEDGER_KEY under the key (once; the first write does it too)."""
    async def work(db: Database) -> str:
        async with db.uow() as uow:
            return await uow.ledger.rekey()

    typer.echo(f"Ledger keyed; head {with_db(settings(), work)}")


@ledger_app.callback()
def _ledger() -> None:
    """Ledger commands."""


# --- council ----------------------------------------------------------------------------------------


@council_app.command("add")
def council_add(
    platform: Annotated[str, typer.Argument(help="telegram (or another platform name).")],
    user_id: Annotated[str, typer.Argument(help="The member's user id on that platform.")],
    community: Annotated[str, typer.Option("--community", help="Community name.")],
) -> None:
    """Give a chat member a council role (moderator) in a community."""
    from bot.services.council import add_council_member

    config = settings()
    added = with_db(config, lambda db: add_council_member(db, community, platform, user_id))
    typer.echo("Council member added." if added else "Already a council member; nothing changed.")


@council_app.callback()
def _council() -> None:
    """Council commands."""


# --- community rules ----------------------------------------------------------------------------------


@community_app.command("config")
def community_config(
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    support: Annotated[str | None, typer.Option(help="Co-signing threshold: 10, 1/5 or 20% of households.")]
    = None,
    collecting_days: Annotated[int | None, typer.Option(min=1, max=90, help="Collecting window in days.")] = None,
    objection_days: Annotated[int | None, typer.Option(min=0, max=90, help="Elevator objection period.")] = None,
    elevator_rule: Annotated[str | None, typer.Option(help="vote_and_objections or vote_only.")] = None,
    non_voters_follow_majority: Annotated[
        bool | None, typer.Option("--non-voters-follow-majority/--no-non-voters-follow-majority",
                                  help="Covenant clause: non-voters count with the majority.")] = None,
    quiet_hours: Annotated[str | None, typer.Option(help="No private nudges in these local hours, e.g. 22:00-08:00.")]
    = None,
) -> None:
    """Show or change a community's rules (with no option: show them)."""
    from bot.services.community import configure

    config = settings()
    shown = with_db(config, lambda db: configure(
        db, community, support=support, collecting_days=collecting_days, objection_days=objection_days,
        elevator_rule=elevator_rule, non_voters_follow_majority=non_voters_follow_majority,
        quiet_hours=quiet_hours))
    for key, value in shown.items():
        typer.echo(f"{key}: {value}")


@community_app.callback()
def _community() -> None:
    """Community commands."""


# --- export and elevator ----------------------------------------------------------------------------


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


@app.command("export")
def export(
    format: Annotated[ExportFormat, typer.Option("--format", help="json or csv.")] = ExportFormat.json,
    proposal: Annotated[int | None, typer.Option("--proposal", help="Only this proposal.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file.")] = None,
) -> None:
    """Export proposals, co-signatures, votes and results for the council."""
    from bot.services.export import export_data, to_csv, to_json

    config = settings()
    data = with_db(config, lambda db: export_data(db, proposal))
    if proposal is not None and not data["proposals"]:
        raise fail(f"No proposal #{proposal}.")
    text = to_json(data) if format is ExportFormat.json else to_csv(data)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(data['proposals'])} proposals written to {output}", err=True)


@elevator_app.command("shares")
def elevator_shares(
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    scope: Annotated[str, typer.Option(help="The building unit, e.g. 3-2.")],
    total: Annotated[str, typer.Option(help="Total cost in yuan, e.g. 600000 or 598000.50.")],
    subsidy: Annotated[str, typer.Option(help="Subsidy in yuan (e.g. Chengdu: 200000).")] = "0",
    coefficients: Annotated[str | None, typer.Option(
        help="guangzhou (default), area, or per-floor list from floor 1: 0,0.5,1,1.1,1.2,1.3")] = None,
    format: Annotated[CodeFormat, typer.Option("--format", help="table or csv.")] = CodeFormat.table,
) -> None:
    """Each home's share of an elevator: floor coefficient x area, in fen, summing exactly to the total."""
    from bot.deliberation.numbers import format_hundredths
    from bot.services.census import get_community
    from bot.services.elevator import coefficients_from, cost_shares

    config = settings()
    total_fen, subsidy_fen = _fen(total, "total"), _fen(subsidy, "subsidy")
    rule = coefficients_from(coefficients)

    async def work(db: Database) -> list[Any]:
        async with db.uow() as uow:
            community_id = (await get_community(uow, community)).id
        assert community_id is not None
        return await cost_shares(db, community_id, scope, total_fen, subsidy_fen, rule)

    shares = with_db(config, work)
    writer = csv.writer(sys.stdout, lineterminator="\n", delimiter="," if format is CodeFormat.csv else "\t")
    writer.writerow(["home", "floor", "area_m2", "coefficient", "share_yuan"])
    for share in shares:
        writer.writerow(csv_row([share.home, share.floor, share.area_m2, str(share.coefficient),
                                 format_hundredths(share.fen)]))


def _fen(text: str, name: str) -> int:
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise fail(f"--{name}: not a number: {text}") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise fail(f"--{name}: a non-negative amount with at most two decimals")
    return int(amount * 100)


# --- residents' requests (接诉即办) -------------------------------------------------------------------

complaints_app = typer.Typer(help="Residents' requests: categories, routing, deadlines and rates.",
                             no_args_is_help=True)
handlers_app = typer.Typer(help="Handlers of residents' requests (a party's staff).", no_args_is_help=True)
app.add_typer(complaints_app, name="complaints")
app.add_typer(handlers_app, name="handlers")


def _pairs(values: list[str] | None, sep: str, what: str) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        left, found, right = value.partition(sep)
        if not found or not left.strip():
            raise fail(f"{what}: expected NAME{sep}VALUE, got {value!r}")
        out.append((left.strip(), right.strip()))
    return out


@complaints_app.command("config")
def complaints_config(
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    party: Annotated[list[str] | None, typer.Option(
        help="Add a party NAME:KIND (kind: property, grid, committee, street, department); repeatable.")] = None,
    route: Annotated[list[str] | None, typer.Option(
        help="Route CATEGORY=PARTY (a new category is added; PARTY empty: unrouted); repeatable.")] = None,
    remove_category: Annotated[list[str] | None, typer.Option(help="Remove a category; repeatable.")] = None,
    street: Annotated[str | None, typer.Option(help="The party that is the street level (escalation).")] = None,
    response_hours: Annotated[int | None, typer.Option(help="First response within N hours (default 24).")] = None,
    urgent_response_hours: Annotated[int | None, typer.Option(help="Urgent: first response within N hours (2).")]
    = None,
    resolution_days: Annotated[int | None, typer.Option(help="Resolution within N days (default 7).")] = None,
    rating_days: Annotated[int | None, typer.Option(help="The author may rate for N days (default 3).")] = None,
    recurring_households: Annotated[int | None, typer.Option(
        help="Similar reports from N households make a recurring problem (default 3).")] = None,
    recurring_days: Annotated[int | None, typer.Option(help="... within N days (default 30).")] = None,
) -> None:
    """Show or change a community's request rules (with no option: show them)."""
    from bot.services.requests import configure

    config = settings()
    shown = with_db(config, lambda db: configure(
        db, community, parties=_pairs(party, ":", "--party"), routes=_pairs(route, "=", "--route"),
        remove=remove_category or [], street=street, response_hours=response_hours,
        urgent_response_hours=urgent_response_hours, resolution_days=resolution_days, rating_days=rating_days,
        recurring_households=recurring_households, recurring_days=recurring_days))
    for key, value in shown.items():
        typer.echo(f"{key}: {value}")


class StatsFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@complaints_app.command("stats")
def complaints_stats(
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    month: Annotated[str, typer.Option(help="The month the requests were reported in, YYYY-MM (community time).")],
    format: Annotated[StatsFormat, typer.Option(help="table, csv or json.")] = StatsFormat.table,
) -> None:
    """Response, resolution and satisfaction rates of a month: overall, per party and per category."""
    import json

    from bot.deliberation.requests import percent
    from bot.services.requests import stats

    config = settings()
    rows = with_db(config, lambda db: stats(db, community, month, config.tz))
    columns = ["group", "name", "received", "responded_on_time", "response_rate", "resolved_on_time",
               "resolution_rate", "satisfied", "basic", "unsatisfied", "not_rated", "satisfaction_rate"]

    def fraction(value: Any) -> str:
        return "" if value is None else f"{value.numerator}/{value.denominator}"

    records = []
    for row in rows:
        r = row.rates
        records.append({"group": row.group, "name": row.name, "received": r.received,
                        "responded_on_time": r.responded_on_time, "response_rate": r.response_rate,
                        "resolved_on_time": r.resolved_on_time, "resolution_rate": r.resolution_rate,
                        "satisfied": r.satisfied, "basic": r.basic, "unsatisfied": r.unsatisfied,
                        "not_rated": r.not_rated, "satisfaction_rate": r.satisfaction_rate})
    rates = ("response_rate", "resolution_rate", "satisfaction_rate")
    if format is StatsFormat.json:
        typer.echo(json.dumps({"format": "yishi-request-stats/1", "community": community, "month": month,
                               "rows": [{k: (fraction(v) or None) if k in rates else v for k, v in rec.items()}
                                        for rec in records]}, ensure_ascii=False, indent=2))
    elif format is StatsFormat.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for rec in records:
            writer.writerow(csv_row([fraction(rec[c]) if c in rates else rec[c] for c in columns]))
        typer.echo(out.getvalue(), nl=False)
    else:
        typer.echo(f"{'group':<9} {'name':<16} {'received':>8} {'response':>9} {'resolution':>10} "
                   f"{'satisfaction':>12} {'not rated':>9}")
        for rec in records:
            typer.echo(f"{rec['group']:<9} {rec['name'][:16]:<16} {rec['received']:>8} "
                       f"{percent(rec['response_rate']):>9} {percent(rec['resolution_rate']):>10} "
                       f"{percent(rec['satisfaction_rate']):>12} {rec['not_rated']:>9}")


@handlers_app.command("add")
def handlers_add(
    platform: Annotated[str, typer.Argument(help="telegram (or another platform name).")],
    user_id: Annotated[str, typer.Argument(help="The member's user id on that platform.")],
    community: Annotated[str, typer.Option("--community", help="Community name.")],
    party: Annotated[str, typer.Option("--party", help="The party they handle requests for.")],
    supervisor: Annotated[bool, typer.Option("--supervisor", help="Also told when a deadline is missed.")] = False,
) -> None:
    """Give a chat member a handler (or supervisor) role in a party."""
    from bot.services.requests import add_handler

    config = settings()
    added = with_db(config, lambda db: add_handler(db, community, platform, user_id, party, supervisor=supervisor))
    typer.echo("Handler added." if added else "Already a handler of that party; nothing changed.")


# --- the council's documents (bot/records) -----------------------------------------------------------------

records_app = typer.Typer(help="The council's documents: result announcements, registers of ballots, minutes.",
                          no_args_is_help=True)
app.add_typer(records_app, name="records")


class DocumentLanguage(StrEnum):
    zh_CN = "zh_CN"
    en = "en"


def _write_document(config: Settings, make: Callable[[Database], Awaitable[Any]], output: Path | None) -> None:
    """Run ``make`` (a ``bot.services.records`` use case) and write its document; refusals in words, no file."""
    from bot.deliberation.errors import InvalidInput, NotFound

    async def work(db: Database) -> Any:
        try:
            return await make(db)
        except NotFound as exc:
            what = exc.params.get("what", "item")
            raise fail(f"No {what} #{exc.params.get('id', '?')}.") from None
        except InvalidInput as exc:
            if exc.params.get("reason") == "vote_open":
                raise fail(f"The vote on proposal #{exc.params['id']} is still open: a document is made only "
                           "once the vote is closed and its result frozen.") from None
            if exc.params.get("reason") == "no_vote":
                raise fail(f"Proposal #{exc.params['id']} has had no vote.") from None
            raise

    document = with_db(config, work)
    target = output or Path(document.filename)
    target.write_bytes(document.content)
    typer.echo(f"{target} ({len(document.content)} bytes)", err=True)


@records_app.command("announcement")
def records_announcement(
    proposal: Annotated[int, typer.Option("--proposal", help="The proposal whose (closed) vote is announced.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="The PDF file to write.")] = None,
    lang: Annotated[DocumentLanguage, typer.Option("--lang", help="zh_CN (default) or en.")] = DocumentLanguage.zh_CN,
) -> None:
    """The announcement of a vote's result, A4 PDF, with every criterion and the ledger head."""
    from bot.i18n import Translator
    from bot.services.records import announcement

    config = settings()
    _write_document(config, lambda db: announcement(db, proposal, Translator(config.DEFAULT_LOCALE), lang.value,
                                                    config.tz), output)


@records_app.command("register")
def records_register(
    proposal: Annotated[int, typer.Option("--proposal", help="The proposal whose (closed) vote is listed.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="The .xlsx file to write.")] = None,
    lang: Annotated[DocumentLanguage, typer.Option("--lang", help="zh_CN (default) or en.")] = DocumentLanguage.zh_CN,
) -> None:
    """One row per home on the vote's frozen roll, with its ballot, and totals, as .xlsx."""
    from bot.i18n import Translator
    from bot.services.records import register

    config = settings()
    _write_document(config, lambda db: register(db, proposal, Translator(config.DEFAULT_LOCALE), lang.value,
                                                config.tz), output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
