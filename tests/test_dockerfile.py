"""The image is kept correct by construction (no Docker engine in CI): it must install the very
lock file the venv uses, on the Airflow version that lock pins, with Java 17 and the code."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
LOCK = (REPO_ROOT / "requirements" / "requirements.lock").read_text()
MAKEFILE = (REPO_ROOT / "Makefile").read_text()


def pinned(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==([^\s;#]+)", LOCK, re.MULTILINE)
    assert match, f"{package} is not pinned in the lock file"
    return match.group(1)


def test_base_image_is_the_airflow_version_the_lock_pins():
    base = re.search(r"^FROM apache/airflow:([\d.]+)-python3\.11\s*$", DOCKERFILE, re.MULTILINE)
    assert base, "the image must build on the official apache/airflow python3.11 image"
    assert base.group(1) == pinned("apache-airflow")


def test_image_and_venv_install_the_same_lock_file():
    copied = re.search(r"^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)\s*$", DOCKERFILE, re.MULTILINE)
    assert copied
    assert copied.group(1) == "requirements/requirements.lock"
    assert re.search(rf"pip install[^\n]*-r {re.escape(copied.group(2))}", DOCKERFILE)
    assert re.search(r"^LOCK := requirements/requirements.lock$", MAKEFILE, re.MULTILINE)
    assert "uv pip sync" in MAKEFILE


def test_image_has_java_17_and_the_code():
    assert "openjdk-17-jre-headless" in DOCKERFILE
    for folder in ("dags", "jobs", "include/pulse", "expectations"):
        assert re.search(
            rf"^COPY\s+(?:--\S+\s+)*{folder}/\s+/opt/airflow/{folder}/", DOCKERFILE, re.M
        )
    # The demo stays out of the image; the scheduler's local settings go in.
    assert not re.search(r"^COPY\s+(?:--\S+\s+)*include/(demo/)?\s", DOCKERFILE, re.M)
    assert "/opt/airflow/config/airflow_local_settings.py" in DOCKERFILE
    assert "PYTHONPATH=/opt/airflow" in DOCKERFILE


def test_every_direct_dependency_is_pinned():
    direct = (REPO_ROOT / "requirements" / "requirements.in").read_text()
    names = [
        re.split(r"[\[<>=!~ ]", line.strip(), maxsplit=1)[0]
        for line in direct.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in names:
        pinned(name)
    assert pinned("pyspark").startswith("4.1.")
    assert pinned("pandas").startswith("2.")
