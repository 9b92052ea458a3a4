"""Running what the webhooks queued, as the worker would (the ``queued`` fixture records the messages)."""

from __future__ import annotations

from typing import Any

from integrations import queue, tasks


def run_queued(queued: Any, done: list[int]) -> int:
    """Run every ``integrations.webhook_deliver`` message queued since the last call; ``done`` keeps the
    position. Returns how many ran."""
    messages = [m for m in queued.messages if m[0] == queue.WEBHOOK_DELIVER]
    fresh = messages[len(done) :]
    for _name, args, _options in fresh:
        tasks.webhook_deliver(*args)
        done.append(args[0])
    return len(fresh)


def sweep() -> int:
    return int(tasks.webhook_sweep())
