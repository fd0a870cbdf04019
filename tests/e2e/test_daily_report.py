"""The daily report written by the DAG's `daily_report` task (`include/report/`) in the
scheduler's runs of the fixture days (the session fixture `backfilled`, tests/e2e/conftest.py,
published to `s3://scheduler/warehouse` on moto's server): the page of the last fixture day,
read from the bucket, shows the numbers of the marts read back from the bucket with the
analysts' reader, and the events verdict of the independent reference."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from include.pulse.reader import read_json, read_table, tables
from jobs import registry
from tests.e2e.dag_runs import s3_store
from tests.landing_reference import DAYS, reference
from tests.report_page import Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = DAYS[-1]


@pytest.fixture(scope="module")
def bucket(backfilled):
    """(page of DAY read from the bucket, its text, the warehouse URI, the boto3 client)."""
    local, root, _ = backfilled
    store = s3_store(local.env)
    key = f"reports/dt={DAY.isoformat()}/index.html"
    body = store.client.get_object(Bucket=store.location.bucket, Key=store.location.key(key))
    text = body["Body"].read().decode("utf-8")
    assert text == (root / "warehouse" / key).read_text()  # the working copy's page, mirrored
    return Page(text), text, local.env["PULSE_WAREHOUSE_URI"], store.client


def test_every_run_put_its_days_page_in_the_bucket(backfilled):
    local, _, _ = backfilled
    pages = sorted(k for k in s3_store(local.env).list("reports/"))
    assert pages == [f"reports/dt={d.isoformat()}/index.html" for d in DAYS]


def test_the_events_verdict_equals_the_reference(bucket):
    page, _, uri, client = bucket
    everything, alone = reference(DAYS), reference((DAY,))
    day = DAY.isoformat()
    assert page.metrics["rows_read"][0] == str(everything["read"][day])
    assert page.metrics["quarantined"][0] == str(sum(everything["quarantine"][day].values()))
    assert dict(page.values("quarantine", "reason", "rows")) == {
        reason: str(n) for reason, n in everything["quarantine"][day].items()
    }
    # The page counts the tables as they stand after every day ran, as the reference over all
    # days does, whatever order the runs took (the backfill ran the days in parallel, the CLI
    # re-ran the last two backwards). The day's run report is a snapshot of the run that
    # processed it last: if an earlier arrival was processed after that run, the page notes
    # how many of the events the run found the earlier delivery took over.
    assert page.metrics["clean"][0] == str(everything["clean"][day])
    assert page.metrics["duplicates"][0] == str(everything["duplicates"][day])
    reported = read_json(uri, f"_runs/events/dt={day}.json", client=client)["clean"]
    assert everything["clean"][day] <= reported <= alone["clean"][day]
    taken = reported - everything["clean"][day]
    assert page.notes_taken_over == ([str(taken)] if taken else [])
    assert page.metrics["adds_up"][0] == "true"
    # Every suite of every group's run report, passed, with its warnings; the verdict follows.
    suites = {}
    for group in registry.groups():
        run = read_json(uri, f"_runs/{group}/dt={day}.json", client=client)
        for name, suite in ((run.get("quality") or {}).get("suites") or {}).items():
            suites[(group, name)] = (bool(suite.get("passed")), len(suite.get("warnings") or []))
    assert ("events", "events") in suites
    shown = page.values("suites", "group", "suite", "passed", "warnings")
    assert sorted(shown) == sorted(
        (g, s, "true" if passed else "false", str(warnings))
        for (g, s), (passed, warnings) in suites.items()
    )
    assert {passed for passed, _ in suites.values()} == {True}
    warned = any(warnings for _, warnings in suites.values())
    assert page.metrics["verdict"][0] == ("passed with warnings" if warned else "passed")


def test_the_numbers_shown_are_the_published_marts(bucket):
    page, _, uri, client = bucket
    catalog = tables(uri, client=client)

    def mart(name, start=DAY):
        return read_table(uri, name, start=start, end=DAY, client=client).to_pylist()

    active = sorted(
        mart("marts/active_users", DAY - timedelta(days=89)), key=lambda r: r["dt"], reverse=True
    )
    assert len(active) == len(DAYS)
    assert page.values("active_users", "dt", "dau", "wau", "mau", "dau_mau") == [
        (str(r["dt"]), str(r["dau"]), str(r["wau"]), str(r["mau"]), repr(r["dau_mau"]))
        for r in active
    ]
    assert page.metrics["dau"][0] == str(active[0]["dau"])
    assert page.metrics["stickiness"][0] == repr(active[0]["dau_mau"])
    lifecycle = ("new_users", "returning_users", "resurrected_users", "dormant_users")
    assert page.values("lifecycle", "dt", *lifecycle) == [
        (str(r["dt"]), *(str(r[c]) for c in lifecycle)) for r in active
    ]

    weekly = [
        r
        for r in mart("marts/retention_cohorts")
        if r["grain"] == "week" and r["dimension"] == "all"
    ]
    shown = sorted(
        (row["cohort_start"]["text"], int(key[1:]), cell["data-retained"], cell["text"])
        for row in page.rows("retention_week")
        for key, cell in row.items()
        if key.startswith("k") and cell["data-value"]
    )
    assert shown == sorted(
        (
            str(r["cohort_start"]),
            r["period_number"],
            str(r["retained"]),
            f"{100 * r['retained'] / r['cohort_size']:.1f}%",  # retained of the cohort
        )
        for r in weekly
    )
    assert shown

    users = mart("marts/user_engagement")
    assert dict(page.values("segments", "segment", "users")) == {
        s: str(n) for s, n in Counter(r["segment"] for r in users).items()
    }
    adoption = mart("marts/feature_adoption")
    assert sorted(page.values("feature_adoption", "feature", "adopters")) == sorted(
        (r["feature"], str(r["adopters"])) for r in adoption
    )
    # The three fixture days give none of these marts a row (churn is a cold start, there is
    # no conversion): each section says so, exactly.
    for table in ("account_health", "usage_alerts", "churn_predictions", "attribution_channels"):
        assert f"marts/{table}" not in catalog
    assert page.empty["account_health"] == "no data yet: no marts/account_health table"
    assert page.empty["usage_alerts"] == "no data yet: no alert ever fired"
    assert page.empty["churn"] == (
        "no data yet: no marts/churn_predictions table (no model trained yet: cold start)"
    )
    assert page.empty["attribution"] == "no data yet: no marts/attribution_channels table"


def test_the_page_needs_no_network(bucket):
    page, text, _, _ = bucket
    assert "http://" not in text
    assert "https://" not in text
    assert page.tags["script"] == 0
    local = ("#", "data:image/png;base64,", "../../_quality/")
    assert [link for link in page.links if not link[2].startswith(local)] == []
