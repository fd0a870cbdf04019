"""Pulse helpers shared by DAGs, jobs and tests (importable as `include.*`)."""
