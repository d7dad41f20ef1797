"""Signing in to the residents' web pages: one-use links from the chat, invite codes, sessions.

A web session acts as a chat ``Member`` (the one who asked for the link, or who redeemed the code),
so rights, homes, language and ballots are the same on both surfaces. Tokens are random, signed with
a key derived from LEDGER_KEY (a forged one is refused before any lookup) and only their SHA-256 is
stored: a copy of the database signs nobody in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import col

from bot.deliberation.errors import DomainError, NotFound
from bot.services import census, throttle
from bot.services.directory import Actor
from bot.storage.keys import Keys
from bot.storage.models import (
    InviteCode,
    Member,
    WebSession,
    WebSignin,
    utcnow,
)
from bot.storage.uow import Database, rowcount

SIGNIN_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(days=30)
# Invite codes typed on the sign-in page: a shared phone or a guessing script is stopped per address,
# and one home's code cannot be guessed from many addresses (8 characters of 31 letters: hopeless at 5).
CODE_PER_IP = throttle.Limit("web-code-ip", 10, timedelta(minutes=15))
CODE_PER_HOME = throttle.Limit("web-code-home", 5, timedelta(minutes=15))
WEB_PLATFORM = "web"  # members who only ever signed in on the web (by invite code)


class SigninInvalid(DomainError):
    """A sign-in link that is forged, expired or already used (``reason`` says which)."""

    code = "signin_invalid"


def _key(keys: Keys, purpose: str) -> bytes:
    return hmac.new(keys.ledger, f"yishi web {purpose}".encode(), hashlib.sha256).digest()


def _sign(keys: Keys, purpose: str, raw: str) -> str:
    mac = hmac.new(_key(keys, purpose), raw.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def new_token(keys: Keys, purpose: str) -> str:
    raw = secrets.token_urlsafe(24)
    return f"{raw}.{_sign(keys, purpose, raw)}"


def signed(keys: Keys, purpose: str, token: str) -> bool:
    raw, dot, mac = token.partition(".")
    if not dot or not raw or len(token) > 100:
        return False
    return hmac.compare_digest(mac, _sign(keys, purpose, raw))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(keys: Keys, browser: str) -> str:
    """The form token of a browser (bound to its cookie, so another site cannot know it)."""
    return _sign(keys, "csrf", browser)


def csrf_ok(keys: Keys, browser: str | None, given: str | None) -> bool:
    return bool(browser) and bool(given) and hmac.compare_digest(csrf_token(keys, browser or ""), given or "")


async def issue_signin(db: Database, actor: Actor, now: datetime | None = None) -> str:
    """A personal sign-in token for the chat member ``actor``, valid 15 minutes, usable once."""
    now = now or utcnow()
    token = new_token(db.keys, "signin")
    async with db.uow() as uow:
        member = await uow.member(actor.platform, actor.external_id, actor.display_name)
        assert member.id is not None
        uow.session.add(WebSignin(token_hash=token_hash(token), member_id=member.id, created_at=now,
                                  expires_at=now + SIGNIN_TTL))
    return token


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # goes into the cookie only
    member_id: int
    expires_at: datetime


async def _new_session(db: Database, member_id: int, now: datetime) -> Session:
    token = new_token(db.keys, "session")
    async with db.uow() as uow:
        uow.session.add(WebSession(token_hash=token_hash(token), member_id=member_id, created_at=now,
                                   expires_at=now + SESSION_TTL))
    return Session(token, member_id, now + SESSION_TTL)


async def redeem_signin(db: Database, token: str, now: datetime | None = None) -> Session:
    """Exchange a sign-in token for a session: forged, expired or used tokens are refused, and nothing changes."""
    now = now or utcnow()
    if not signed(db.keys, "signin", token):
        raise SigninInvalid("forged sign-in link", reason="forged")
    async with db.uow() as uow:
        row = (await uow.session.execute(
            select(WebSignin).where(col(WebSignin.token_hash) == token_hash(token)))).scalar_one_or_none()
        if row is None:
            raise SigninInvalid("unknown sign-in link", reason="forged")
        if row.used_at is not None:
            raise SigninInvalid("used sign-in link", reason="used")
        if now >= row.expires_at:
            raise SigninInvalid("expired sign-in link", reason="expired")
        # The WHERE makes the link single-use even when two browsers race for it.
        claimed = await uow.session.execute(
            update(WebSignin).where(col(WebSignin.id) == row.id, col(WebSignin.used_at).is_(None))
            .values(used_at=now))
        if rowcount(claimed) != 1:
            raise SigninInvalid("used sign-in link", reason="used")
        member_id = row.member_id
    return await _new_session(db, member_id, now)


async def signin_with_code(db: Database, home_label: str, code: str, ip: str, now: datetime | None = None) -> Session:
    """Sign in with the invite code printed on a home's notice, rate-limited per address and per home.

    An unused code links a new web member to the home as its owner (census.redeem_code, as /register
    does); a code already redeemed signs in the member who redeemed it, whether in the chat or here.
    """
    now = now or utcnow()
    label = home_label.strip()[:40]
    await throttle.take(db, CODE_PER_IP, ip[:60], now)
    await throttle.take(db, CODE_PER_HOME, label.upper(), now)
    normal = census.normalize_code(code)
    if len(normal) != census.CODE_LENGTH or len(label.split("-")) != 3:
        raise census.CodeInvalid("malformed code or home")
    async with db.uow(readonly=True) as uow:
        invite = (await uow.session.execute(
            select(InviteCode).where(col(InviteCode.code_hash) == census.hash_code(normal)))).scalar_one_or_none()
        parts = await census.home_parts(uow, invite.exclusive_unit_id) if invite is not None else None
        home = "-".join(parts) if parts is not None else None
    if invite is None or invite.revoked_at is not None or home is None or home.upper() != label.upper():
        raise census.CodeInvalid("unknown code, or not this home's")
    if invite.used_by_member_id is not None:
        member_id = invite.used_by_member_id
    else:
        redeemed = await census.redeem_code(db, WEB_PLATFORM, secrets.token_hex(16), normal)
        member_id = redeemed.member_id
        async with db.uow() as uow:  # no chat to write to: notices that check it skip this member
            await uow.session.execute(update(Member).where(col(Member.id) == member_id)
                                      .values(reachable=False))
    await throttle.clear(db, CODE_PER_HOME, label.upper())
    return await _new_session(db, member_id, now)


async def member_of_session(db: Database, token: str | None, now: datetime | None = None) -> Member | None:
    """The member a session cookie signs in, or None (no cookie, forged, ended or expired)."""
    now = now or utcnow()
    if not token or not signed(db.keys, "session", token):
        return None
    async with db.uow(readonly=True) as uow:
        row = (await uow.session.execute(
            select(WebSession, Member).join(Member, col(Member.id) == col(WebSession.member_id))
            .where(col(WebSession.token_hash) == token_hash(token)))).first()
    if row is None:
        return None
    session, member = row
    if session.ended_at is not None or now >= session.expires_at:
        return None
    return member


async def end_session(db: Database, token: str | None, now: datetime | None = None) -> None:
    if not token:
        return
    async with db.uow() as uow:
        await uow.session.execute(update(WebSession).where(col(WebSession.token_hash) == token_hash(token))
                                  .values(ended_at=now or utcnow()))


async def set_member_locale(db: Database, member_id: int, locale: str) -> None:
    """The member's language, shared with the chat (/lang)."""
    async with db.uow() as uow:
        member = await uow.session.get(Member, member_id)
        if member is None:
            raise NotFound("no such member", what="member", id=member_id)
        member.locale = locale


def actor_of(member: Member) -> Actor:
    return Actor(member.platform, member.external_id, member.display_name)
