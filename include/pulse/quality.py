"""Placeholder replaced by the GX implementation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class QualityError(RuntimeError):
    pass


def validate(
    frame: Any,
    suite: str,
    results_dir: Path,
    parameters: dict[str, Any] | None = None,
    context: Callable[[], str] | None = None,
) -> dict[str, Any]:
    if suite == "landing":
        bad = frame.where("not (has_user_id and has_event_time and has_event_name)").count()
        if bad:
            raise QualityError(f"landing failed: {context() if context else ''}")
    return {}
