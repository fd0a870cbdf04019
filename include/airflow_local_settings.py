"""Airflow's local settings for a Pulse deployment: copy to `$AIRFLOW_HOME/config/` (the demo,
the tests' Airflow and the Docker image do). Airflow imports it in every one of its processes.
"""

from include.pulse.preload import preload

preload()
