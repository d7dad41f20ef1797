"""The persistent, rate-limited outbox every outgoing message goes through."""

from bot.storage.outbox import Priority, decode, encode, enqueue, enqueue_text, split_text

__all__ = ["Priority", "decode", "encode", "enqueue", "enqueue_text", "split_text"]
