"""Kept for code written against the old path: queueing lives in bot.storage.outbox."""

from bot.storage.outbox import Priority, decode, encode, enqueue, enqueue_text, split_text

__all__ = ["Priority", "decode", "encode", "enqueue", "enqueue_text", "split_text"]
