"""What tasks resolve from Airflow connections (`pulse_spark`, `pulse_s3`) or the config."""

from __future__ import annotations

import pytest

from include.pulse.config import PulseConfig

pytestmark = pytest.mark.unit

CONFIG = PulseConfig.from_env({"PULSE_SPARK_MASTER": "local[3]"})


def test_publish_has_nothing_to_do_for_a_local_warehouse(tmp_path):
    from include.pulse.config import PulseConfig
    from include.pulse.tasks import publish

    config = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path / "wh")})
    assert publish(config) == {"target": str(tmp_path / "wh"), "remote": False}
    assert not (tmp_path / "wh").exists()
