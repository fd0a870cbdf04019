"""`users_archive_latest` has the columns of `users_state` (partitioned by the snapshot's `dt`)."""

from __future__ import annotations

from jobs.users_state.schema import FILE_SCHEMA, SCHEMA

__all__ = ["FILE_SCHEMA", "SCHEMA"]
