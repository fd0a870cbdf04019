"""The image is kept correct by construction (no Docker engine in CI): it must install the runtime
lock file, whose pins the venv's dev lock shares, on the Airflow version that lock pins, with
Java 17 found on any architecture, and the code; the test and lint tools stay out of it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

REQUIREMENTS = REPO_ROOT / "requirements"
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
INSTRUCTIONS = "\n".join(line for line in DOCKERFILE.splitlines() if not line.startswith("#"))
RUNTIME_LOCK = (REQUIREMENTS / "runtime.lock").read_text()
DEV_LOCK = (REQUIREMENTS / "dev.lock").read_text()
MAKEFILE = (REPO_ROOT / "Makefile").read_text()
# What the scheduler and the tasks import in the image (the demo, tests and bench stay out).
RUNTIME_CODE = ("dags", "jobs", "include/pulse", "include/airflow_local_settings.py")
DEV_ONLY = ("moto", "duckdb", "pytest", "ruff", "hypothesis")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """name -> version of every `name==version` line of a lock file."""
    return {
        normalize(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==([^\s;#\\]+)", lock, re.MULTILINE)
    }


def pinned(package: str, lock: str = RUNTIME_LOCK) -> str:
    version = pins(lock).get(normalize(package))
    assert version, f"{package} is not pinned in the lock file"
    return version


def direct(in_file: str) -> list[str]:
    lines = (REQUIREMENTS / in_file).read_text().splitlines()
    return [
        re.split(r"[\[<>=!~ ]", line.strip(), maxsplit=1)[0]
        for line in lines
        if line.strip() and not line.startswith(("#", "-"))
    ]


def test_base_image_is_the_airflow_version_the_lock_pins():
    base = re.search(r"^FROM apache/airflow:([\d.]+)-python3\.11\s*$", DOCKERFILE, re.MULTILINE)
    assert base, "the image must build on the official apache/airflow python3.11 image"
    assert base.group(1) == pinned("apache-airflow")


def test_the_image_installs_the_runtime_lock_and_the_venv_the_dev_lock():
    locks = re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+\.lock)\s+(\S+)\s*$", DOCKERFILE, re.MULTILINE)
    assert [source for source, _ in locks] == ["requirements/runtime.lock"]
    copied = re.search(rf"^COPY\s+(?:--\S+\s+)*{locks[0][0]}\s+(\S+)\s*$", DOCKERFILE, re.M)
    assert re.search(
        rf"pip install[^\n]*--require-hashes[^\n]*-r {re.escape(copied.group(1))}", DOCKERFILE
    )
    assert re.search(r"^LOCK := requirements/dev.lock$", MAKEFILE, re.MULTILINE)
    assert re.search(r"^\$\(VENV\)/.stamp: \$\(LOCK\)$", MAKEFILE, re.MULTILINE)
    assert "uv pip sync" in MAKEFILE


@pytest.mark.parametrize("lock", ["runtime.lock", "dev.lock"])
def test_every_pin_has_hashes(lock: str):
    text = (REQUIREMENTS / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    assert len(entries) == len(pins(text)) > 100
    unhashed = [e.split(" ", 1)[0] for e in entries if "--hash=sha256:" not in e]
    assert unhashed == []


def test_the_dev_lock_is_the_runtime_lock_plus_tools_at_the_same_versions():
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime
    for tool in DEV_ONLY:
        assert normalize(tool) in dev
        assert normalize(tool) not in runtime, f"{tool} is a test/lint tool: not in the image"
    assert "-c runtime.lock" in (REQUIREMENTS / "dev.in").read_text()


def test_the_jdk_is_found_on_any_architecture():
    assert "openjdk-17-jre-headless" in DOCKERFILE
    # Debian names the JDK's folder after the architecture: nothing may hard-code one.
    assert not re.search(r"amd64|arm64|aarch64|x86_64", INSTRUCTIONS)
    java_home = re.search(r"^ENV JAVA_HOME=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert java_home
    link = re.search(r"^RUN ln -s (\".*\") (\S+) \\$", INSTRUCTIONS, re.MULTILINE)
    assert link, "JAVA_HOME must be derived from the installed java at build time"
    assert link.group(1) == '"$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"'
    assert link.group(2) == java_home.group(1)


def test_image_has_java_17_and_the_code():
    for folder in ("dags", "jobs", "include/pulse", "expectations"):
        assert re.search(
            rf"^COPY\s+(?:--\S+\s+)*{folder}/\s+/opt/airflow/{folder}/", DOCKERFILE, re.M
        )
    # The demo stays out of the image; the scheduler's local settings go in.
    assert not re.search(r"^COPY\s+(?:--\S+\s+)*include/(demo/)?\s", DOCKERFILE, re.M)
    assert "/opt/airflow/config/airflow_local_settings.py" in DOCKERFILE
    assert "PYTHONPATH=/opt/airflow" in DOCKERFILE


@pytest.mark.parametrize(("in_file", "lock"), [("runtime.in", RUNTIME_LOCK), ("dev.in", DEV_LOCK)])
def test_every_direct_dependency_is_pinned(in_file: str, lock: str):
    for name in direct(in_file):
        pinned(name, lock)
    assert pinned("pyspark", lock).startswith("4.1.")
    assert pinned("pandas", lock).startswith("2.")


def runtime_imports() -> set[str]:
    """Top-level names of every third-party module the runtime code imports (anywhere)."""
    files = []
    for entry in RUNTIME_CODE:
        path = REPO_ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    found: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    local = {"dags", "jobs", "include", "__future__"}
    return {name for name in found if name not in local and name not in sys.stdlib_module_names}


def test_everything_the_runtime_code_imports_is_in_the_runtime_lock():
    imported = runtime_imports()
    assert {"airflow", "pyspark", "great_expectations", "pyarrow", "pandas", "boto3"} <= imported
    runtime = pins(RUNTIME_LOCK)
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module
        for module in imported
        if not any(normalize(d) in runtime for d in distributions.get(module, [module]))
    }
    assert missing == set()
    assert not imported & set(DEV_ONLY)
