"""Demo helpers: synthetic product events for the Pulse landing area."""
