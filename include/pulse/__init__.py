"""Pulse library code: configuration, storage, Spark session, quality checks."""
