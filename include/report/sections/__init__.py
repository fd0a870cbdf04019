"""The sections of the daily report: pure functions from run reports and pyarrow tables to HTML."""
