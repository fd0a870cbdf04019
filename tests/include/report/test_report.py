"""The daily report (`include/report/`) on a tiny warehouse written here with pyarrow and
published with the warehouse protocol (manifests and catalog, as the reader expects): every
number the page shows, read back with the stdlib's html.parser, equals the rows written."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse.warehouse import Warehouse
from include.report.arrow import exact_sum
from include.report.inputs import load
from include.report.markup import fmt_int, fmt_num, fmt_pct
from include.report.page import render
from include.report.sections.alerts import alerts_section
from include.report.sections.quality import quality_section, with_later_erasures
from include.report.sections.retention import retention_section
from include.report.sections.segments import segments_section
from include.report.task import days_to_render, report_path, run_task, write_report
from tests.report_page import Page

pytestmark = pytest.mark.unit

D = date(2024, 3, 28)


def publish(root: Path, table: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Publish `rows` (each with its `dt`) as the table's dt partitions, like a group's run."""
    warehouse = Warehouse(root, run_id="test")
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["dt"], []).append({k: v for k, v in row.items() if k != "dt"})
    for day, part in sorted(by_day.items()):
        staging = warehouse.new_staging("test", table.replace("/", "-"))
        pq.write_table(pa.Table.from_pylist(part, schema=schema), staging / "part-0.parquet")
        warehouse.publish_partition(staging, warehouse.partition(table, ("dt", day.isoformat())))


def schema(**columns: pa.DataType) -> pa.Schema:
    return pa.schema(list(columns.items()))


I64, F, S, B, DT = pa.int64(), pa.float64(), pa.string(), pa.bool_(), pa.date32()

ACTIVE = [
    # (dt, dau, wau, mau, new, returning, resurrected, dormant)
    (D - timedelta(days=95), 99, 99, 99, 99, 0, 0, 0),  # older than 90 days: not shown
    (D - timedelta(days=2), 3, 3, 3, 3, 0, 0, 0),
    (D - timedelta(days=1), 2, 4, 4, 1, 1, 0, 2),
    (D, 4, 5, 6, 1, 2, 1, 0),
]
COHORTS = [
    # (cohort_start, k, size, retained, complete)
    (date(2024, 3, 11), 0, 4, 4, True),
    (date(2024, 3, 11), 1, 4, 1, True),
    (date(2024, 3, 11), 2, 4, 3, False),
    (date(2024, 3, 18), 0, 3, 3, True),
    (date(2024, 3, 18), 1, 3, 2, False),
    (date(2024, 3, 25), 0, 2, 2, False),
]
CHANNELS = [
    # (window, model, channel, conversions, share)
    (90, "first_touch", "ads", 3.0, 0.75),
    (90, "first_touch", "email", 1.0, 0.25),
    (90, "linear", "ads", 2.5, 0.625),
    (90, "linear", "email", 1.5, 0.375),
    (90, "shapley", "ads", 2.0, 0.5),
    (90, "shapley", "email", 2.0, 0.5),
    (1, "linear", "ads", 1.0, 1.0),  # the day's window: not the one shown
]
PREDICTIONS = [("u1", 0.9, "high"), ("u2", 0.6, "high"), ("u3", 0.3, "medium"), ("u4", 0.1, "low")]
EVENTS_RUN = {
    "rows_read": 20,
    "clean": 14,
    "duplicates": 3,
    "duplicates_within_day": 2,
    "duplicates_of_earlier_arrivals": 1,
    "quarantined": 3,
    "quarantined_by_reason": {"missing_user_id": 2, "invalid_record": 1},
    "late_rows": 1,
    "quality": {
        "data_docs": "/somewhere/work/_quality/events/dt=2024-03-28/docs/index.html",
        "suites": {
            "landing": {"passed": True, "evaluated": 6, "failures": [], "warnings": []},
            "events": {"passed": True, "evaluated": 13, "failures": [], "warnings": ["w"]},
        },
    },
}


def write_run(root: Path, group: str, day: date, report: dict[str, Any]) -> None:
    path = root / "_runs" / group / f"dt={day.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("warehouse")
    publish(
        root,
        "marts/active_users",
        [
            {
                "dt": dt,
                "dau": dau,
                "wau": wau,
                "mau": mau,
                "dau_mau": dau / mau,
                "wau_mau": wau / mau,
                "new_users": new,
                "returning_users": ret,
                "resurrected_users": res,
                "dormant_users": dormant,
            }
            for dt, dau, wau, mau, new, ret, res, dormant in ACTIVE
        ],
        schema(
            dau=I64,
            wau=I64,
            mau=I64,
            dau_mau=F,
            wau_mau=F,
            new_users=I64,
            returning_users=I64,
            resurrected_users=I64,
            dormant_users=I64,
        ),
    )
    cohort_schema = schema(
        grain=S,
        cohort_start=DT,
        period_number=pa.int32(),
        cohort_size=I64,
        retained=I64,
        retention_rate=F,
        is_complete=B,
        dimension=S,
        dimension_value=S,
    )
    cells = [
        {
            "dt": D,
            "grain": "week",
            "cohort_start": start,
            "period_number": k,
            "cohort_size": size,
            "retained": kept,
            "retention_rate": kept / size,
            "is_complete": complete,
            "dimension": "all",
            "dimension_value": "all",
        }
        for start, k, size, kept, complete in COHORTS
    ]
    # Other grains and breakdowns, and the previous snapshot, are not in the weekly heatmap.
    noise = {**cells[0], "dimension": "platform", "dimension_value": "ios", "retained": 1}
    older = {**cells[1], "dt": D - timedelta(days=1), "retained": 0, "retention_rate": 0.0}
    publish(root, "marts/retention_cohorts", [*cells, noise, older], cohort_schema)
    publish(
        root,
        "marts/retention_curve",
        [
            {"dt": D, "grain": "week", "period_number": 0, "cohorts": 3, "cohort_users": 9,
             "retention_rate": 1.0, "unbounded_rate": 1.0, "dimension": "all",
             "dimension_value": "all"},
            {"dt": D, "grain": "week", "period_number": 1, "cohorts": 1, "cohort_users": 4,
             "retention_rate": 0.25, "unbounded_rate": 0.75, "dimension": "all",
             "dimension_value": "all"},
            {"dt": D, "grain": "day", "period_number": 1, "cohorts": 1, "cohort_users": 4,
             "retention_rate": 0.5, "unbounded_rate": 0.5, "dimension": "all",
             "dimension_value": "all"},
        ],
        schema(grain=S, period_number=pa.int32(), cohorts=I64, cohort_users=I64,
               retention_rate=F, unbounded_rate=F, dimension=S, dimension_value=S),
    )  # fmt: skip
    publish(
        root,
        "marts/feature_adoption",
        [
            {"dt": D, "feature": "search", "tier": "core", "adopters": 3, "adoption_rate": 0.5,
             "new_adopters": 1, "total_uses": 9, "uses_per_adopter": 3.0},
            {"dt": D, "feature": "export", "tier": None, "adopters": 5, "adoption_rate": 5 / 6,
             "new_adopters": 0, "total_uses": 5, "uses_per_adopter": 1.0},
        ],
        schema(feature=S, tier=S, adopters=I64, adoption_rate=F, new_adopters=I64, total_uses=I64,
               uses_per_adopter=F),
    )  # fmt: skip
    segments = ["power", "casual", "casual", "at_risk", "champion", "casual"]
    publish(
        root,
        "marts/user_engagement",
        [
            {"dt": D, "user_id": f"u{i}", "segment": s, "health_score": 10.0 * i}
            for i, s in enumerate(segments)
        ],
        schema(user_id=S, segment=S, health_score=F),
    )
    publish(
        root,
        "marts/account_health",
        [
            {"dt": D, "account_id": "a1", "health_score": 5.0, "usage_pattern": "dormant"},
            {"dt": D, "account_id": "a2", "health_score": 55.5, "usage_pattern": "growing"},
            {"dt": D, "account_id": "a3", "health_score": 59.9, "usage_pattern": "growing"},
            {"dt": D, "account_id": "a4", "health_score": 100.0, "usage_pattern": "steady_high"},
        ],
        schema(account_id=S, health_score=F, usage_pattern=S),
    )
    publish(
        root,
        "marts/usage_alerts",
        [
            {"dt": D, "entity_type": "user", "entity_id": "u1", "alert": "no_activity",
             "severity": "warning", "observed": 15.0, "threshold": 14.0, "detail": None},
            {"dt": D, "entity_type": "user", "entity_id": "u2", "alert": "usage_decline",
             "severity": "critical", "observed": 0.4, "threshold": 0.5, "detail": None},
            {"dt": D, "entity_type": "user", "entity_id": "u3", "alert": "no_activity",
             "severity": "warning", "observed": 20.0, "threshold": 14.0, "detail": None},
        ],
        schema(entity_type=S, entity_id=S, alert=S, severity=S, observed=F, threshold=F,
               detail=S),
    )  # fmt: skip
    publish(
        root,
        "marts/attribution_channels",
        [
            {"dt": D, "window_days": w, "model": m, "channel": c, "conversions": n,
             "revenue": 10 * n, "share": s, "removal_effect": None}
            for w, m, c, n, s in CHANNELS
        ],
        schema(window_days=pa.int32(), model=S, channel=S, conversions=F, revenue=F, share=F,
               removal_effect=F),
    )  # fmt: skip
    publish(
        root,
        "marts/churn_predictions",
        [
            {"dt": D, "user_id": u, "churn_probability": p, "risk_band": b,
             "model_version": date(2024, 3, 22)}
            for u, p, b in PREDICTIONS
        ],
        schema(user_id=S, churn_probability=F, risk_band=S, model_version=DT),
    )  # fmt: skip
    write_run(root, "events", D, EVENTS_RUN)
    write_run(
        root,
        "user_engagement",
        D,
        {
            "days_recomputed": [str(D - timedelta(days=1)), str(D)],
            "quality": {
                "data_docs": "_quality/user_engagement/dt=2024-03-28/docs/index.html",
                "suites": {"usage_alerts": {"passed": True, "evaluated": 6, "failures": []}},
            },
        },
    )
    write_run(root, "active_users", D, {"days_recomputed": [], "job": "active_users"})
    return root


@pytest.fixture(scope="module")
def page(warehouse) -> Page:
    return Page(render(load(warehouse, D)))


def test_the_verdict_shows_the_ingest_counts_and_every_suite(page):
    assert page.metrics["day"][0] == "2024-03-28"
    assert page.metrics["verdict"] == ("passed with warnings", "passed with warnings")
    shown = {k: page.metrics[k] for k in ("rows_read", "clean", "duplicates", "quarantined")}
    assert shown == {
        "rows_read": ("20", "20"),
        "clean": ("14", "14"),
        "duplicates": ("3", "3"),
        "quarantined": ("3", "3"),
    }
    assert page.metrics["late_rows"] == ("1", "1")
    assert page.metrics["adds_up"][0] == "true"
    assert page.values("quarantine", "reason", "rows") == [
        ("invalid_record", "1"),
        ("missing_user_id", "2"),
    ]
    assert page.values("suites", "group", "suite", "passed", "evaluated", "warnings") == [
        ("events", "events", "true", "13", "1"),
        ("events", "landing", "true", "6", "0"),
        ("user_engagement", "usage_alerts", "true", "6", "0"),
    ]
    docs = sorted(href for tag, name, href in page.links if tag == "a" and "_quality" in href)
    assert docs == [
        "../../_quality/events/dt=2024-03-28/docs/index.html",
        "../../_quality/user_engagement/dt=2024-03-28/docs/index.html",
    ]


def test_a_failed_suite_fails_the_verdict():
    runs = {"events": {**EVENTS_RUN, "quality": {"suites": {"events": {"passed": False}}}}}
    html = quality_section(D, runs)
    assert Page(html).metrics["verdict"][0] == "failed"


def test_activity_headline_and_90_days_of_the_mart(page):
    _, dau, wau, mau, *_ = ACTIVE[-1]
    assert page.metrics["dau"] == (str(dau), str(dau))
    assert page.metrics["wau"] == (str(wau), str(wau))
    assert page.metrics["mau"] == (str(mau), str(mau))
    assert page.metrics["stickiness"] == (repr(dau / mau), f"{dau / mau:.3f}")
    # Newest first; the day 95 days before D is outside the 90 days.
    assert page.values("active_users", "dt", "dau", "wau", "mau", "dau_mau") == [
        (d.isoformat(), str(a), str(w), str(m), repr(a / m)) for d, a, w, m, *_ in ACTIVE[:0:-1]
    ]
    assert page.values(
        "lifecycle", "dt", "new_users", "returning_users", "resurrected_users", "dormant_users"
    ) == [(d.isoformat(), *(str(x) for x in rest)) for d, _, _, _, *rest in ACTIVE[:0:-1]]
    assert page.metrics["resurrected_users"][0] == "1"


def test_the_retention_heatmap_shows_every_weekly_cell_of_the_snapshot(page):
    rows = page.rows("retention_week")
    assert [(r["cohort_start"]["text"], r["cohort_size"]["text"]) for r in rows] == [
        ("2024-03-11", "4"),
        ("2024-03-18", "3"),
        ("2024-03-25", "2"),
    ]
    shown = sorted(
        (
            r["cohort_start"]["text"],
            int(k[1:]),
            c["data-retained"],
            c["text"],
            "partial" in c.get("class", ""),
        )
        for r in rows
        for k, c in r.items()
        if k.startswith("k") and c["data-value"]
    )
    # COHORTS: retained / size of each cell, as a percentage with one decimal.
    assert shown == [
        ("2024-03-11", 0, "4", "100.0%", False),
        ("2024-03-11", 1, "1", "25.0%", False),
        ("2024-03-11", 2, "3", "75.0%", True),
        ("2024-03-18", 0, "3", "100.0%", False),
        ("2024-03-18", 1, "2", "66.7%", True),
        ("2024-03-25", 0, "2", "100.0%", True),
    ]
    assert rows[2]["k1"]["text"] == ""  # no cell after the snapshot
    assert page.values("retention_curve", "period_number", "cohorts", "retention_rate") == [
        ("0", "3", "1.0"),
        ("1", "1", "0.25"),
    ]


def test_attribution_shows_every_model_share_of_the_long_window(page):
    rows = page.rows("attribution")
    header = [c for c in rows[0] if c != "channel"]
    assert header == ["first_touch", "linear", "shapley"]  # the models' own order
    shown = {
        (row["channel"]["text"], model): (row[model]["data-value"], row[model]["text"])
        for row in rows
        for model in header
    }
    assert shown == {  # CHANNELS of the 90-day window: the share, and as a percentage
        ("ads", "first_touch"): ("0.75", "75.0%"),
        ("email", "first_touch"): ("0.25", "25.0%"),
        ("ads", "linear"): ("0.625", "62.5%"),
        ("email", "linear"): ("0.375", "37.5%"),
        ("ads", "shapley"): ("0.5", "50.0%"),
        ("email", "shapley"): ("0.5", "50.0%"),
    }
    assert [row["channel"]["text"] for row in rows] == ["ads", "email"]  # by linear share
    assert page.metrics["conversions"][0] == "4.0"
    assert page.metrics["attribution_window_days"][0] == "90"


def test_segments_accounts_alerts_adoption_and_churn_bands(page):
    assert page.values("segments", "segment", "users") == [
        ("champion", "1"),
        ("power", "1"),
        ("casual", "3"),
        ("at_risk", "1"),
    ]
    bands = dict(page.values("account_health", "band", "accounts"))
    assert (bands["0-10"], bands["50-60"], bands["90-100"], bands["60-70"]) == ("1", "2", "1", "0")
    assert page.values("usage_patterns", "usage_pattern", "accounts") == [
        ("growing", "2"),
        ("dormant", "1"),
        ("steady_high", "1"),
    ]
    assert page.metrics["alerts_open"][0] == "3"
    assert page.values("alerts_summary", "alert", "severity", "alerts") == [
        ("usage_decline", "critical", "1"),
        ("no_activity", "warning", "2"),
    ]
    assert [r[0] for r in page.values("alerts", "entity_id")] == ["u2", "u1", "u3"]
    assert page.values("feature_adoption", "feature", "adopters", "adoption_rate") == [
        ("export", "5", repr(5 / 6)),
        ("search", "3", "0.5"),
    ]
    assert page.values("churn_bands", "risk_band", "users", "mean_probability") == [
        ("high", "2", repr((0.9 + 0.6) / 2)),
        ("medium", "1", "0.3"),
        ("low", "1", "0.1"),
    ]
    assert page.metrics["churn_model_version"][0] == "2024-03-22"


def test_the_page_needs_no_network_and_is_deterministic(warehouse, page):
    text = render(load(warehouse, D))
    assert render(load(warehouse, D)) == text
    assert "http://" not in text
    assert "https://" not in text
    assert page.tags["script"] == 0
    assert page.tags["img"] == 0
    assert page.tags["link"] == 0
    assert "@import" not in text
    assert "url(" not in text.replace("url(#", "")  # only the charts' own clip paths
    # Links: the charts' own ids, the heatmap's pixels inlined as data, the Data Docs files.
    local = ("#", "data:image/png;base64,", "../../_quality/")
    assert [link for link in page.links if not link[2].startswith(local)] == []
    # matplotlib charts, inline: users, stickiness, lifecycle, heatmap, curve, adoption,
    # segments, account health, attribution, churn bands
    assert page.tags["svg"] == 10


EMPTY_BECAUSE = {
    "events_run": "no run report _runs/events/dt=2024-03-28.json",
    "active_users": "no marts/active_users table",
    "lifecycle": "no marts/active_users table",
    "retention_week": "no marts/retention_cohorts table",
    "retention_curve": "no marts/retention_curve table",
    "feature_adoption": "no marts/feature_adoption table",
    "segments": "no marts/user_engagement table",
    "account_health": "no marts/account_health table",
    "usage_alerts": "no alert ever fired",
    "attribution": "no marts/attribution_channels table",
    "churn": "no marts/churn_predictions table (no model trained yet: cold start)",
}


def test_the_formatters_against_literal_text():
    """The page's number formats, once, against literal strings (the other tests use
    literals too, never the formatters)."""
    assert [fmt_int(v) for v in (None, 0, 7, 1234, 1234567, 3.0)] == [
        "",
        "0",
        "7",
        "1,234",
        "1,234,567",
        "3",
    ]
    assert [fmt_pct(v) for v in (None, 0, 1, 0.25, 2 / 3, 0.625, 0.0004, 1.5)] == [
        "",
        "0.0%",
        "100.0%",
        "25.0%",
        "66.7%",
        "62.5%",
        "0.0%",
        "150.0%",
    ]
    assert [fmt_num(v) for v in (None, 0.5, 2 / 3)] == ["", "0.500", "0.667"]
    assert fmt_num(2 / 3, 1) == "0.7"


def test_absent_marts_say_no_data_yet(tmp_path):
    page = Page(render(load(tmp_path, D)))
    assert page.metrics["verdict"][0] == "no data yet"
    for name in (
        "events_run", "active_users", "lifecycle", "retention_week", "retention_curve",
        "feature_adoption", "segments", "account_health", "usage_alerts", "attribution", "churn",
    ):  # fmt: skip
        assert page.empty[name] == f"no data yet: {EMPTY_BECAUSE[name]}", name
    assert sorted(page.empty) == sorted(EMPTY_BECAUSE)
    assert page.tags["svg"] == 0


def test_a_day_without_snapshots_shows_the_latest_ones_dated(warehouse):
    """No group ran for `later` (a backfill in another order, a group not run yet): each
    section shows the latest snapshot up to it, D's, and says so in its title."""
    later = D + timedelta(days=1)
    page = Page(render(load(warehouse, later)))
    dated = f", as of {D} (the latest snapshot; none for {later})"
    assert page.titles == {
        "quality": f"Data quality of the delivery of {later}",
        "activity": f"Active users, 3 days up to {later}{dated}",
        "lifecycle": f"Lifecycle{dated}",
        "retention": f"Retention by weekly cohort{dated}",
        "adoption": f"Feature adoption (2 features){dated}",
        "segments": f"Segments and account health{dated}",
        "alerts": f"Open usage alerts{dated}",
        "attribution": f"Channel credit by attribution model, 90 days{dated}",
        "churn": f"Churn risk{dated}",
    }
    assert page.snapshots == {"quality": "", **{k: str(D) for k in list(page.titles)[1:]}}
    # The numbers are D's snapshot's, as on D's own page.
    assert page.metrics["dau"] == ("4", "4")
    assert page.metrics["churn_scored_users"] == ("4", "4")
    assert page.values("churn_bands", "risk_band", "users") == [
        ("high", "2"),
        ("medium", "1"),
        ("low", "1"),
    ]
    assert page.empty == {"events_run": f"no data yet: no run report _runs/events/dt={later}.json"}


def test_a_group_that_ran_for_the_day_shows_its_own_snapshot_even_empty(warehouse, tmp_path):
    """A group's run report for D means D's snapshot was computed: a mart without a partition
    that day (no alert fired, nobody scored) says so; it does not fall back to older ones."""
    later = D + timedelta(days=1)
    copy = tmp_path / "warehouse"
    shutil.copytree(warehouse, copy)
    write_run(copy, "user_engagement", later, {"days_recomputed": [str(later)]})
    write_run(copy, "churn_features", later, {"days_recomputed": [str(later)]})
    page = Page(render(load(copy, later)))
    none = f"no data yet: none in the snapshot of {later}"
    assert page.empty["usage_alerts"] == none
    assert page.empty["segments"] == none
    assert page.empty["account_health"] == none
    assert page.empty["churn"] == none
    assert page.snapshots["alerts"] == page.snapshots["churn"] == str(later)
    # Groups that did not run for `later` still show D's snapshot, dated.
    assert page.snapshots["attribution"] == page.snapshots["retention"] == str(D)


def test_the_page_is_written_atomically_and_recomputed_days_are_rendered_again(warehouse):
    path = report_path(warehouse, D)
    assert path == warehouse / "reports/dt=2024-03-28/index.html"
    write_report("<p>old</p>", path)
    write_report("<p>new</p>", path)
    assert path.read_text() == "<p>new</p>"
    assert [p.name for p in path.parent.iterdir()] == ["index.html"]  # no temp file left
    runs = load(warehouse, D + timedelta(days=1)).runs
    assert days_to_render(D + timedelta(days=1), runs, warehouse) == [D + timedelta(days=1)]
    runs = {"user_engagement": {"days_recomputed": [str(D - timedelta(days=1)), str(D)]}}
    # D - 1 has no page: only pages that exist are rendered again.
    later = D + timedelta(days=2)
    assert days_to_render(later, runs, warehouse) == [later, D]


def test_run_task_writes_the_days_page_into_a_local_warehouse(warehouse, tmp_path):
    from include.pulse.config import PulseConfig

    config = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(warehouse)})
    result = run_task(config, D.isoformat())
    path = warehouse / "reports/dt=2024-03-28/index.html"
    assert result["written"] == [str(path)]
    assert result["published"] == [f"{warehouse}/reports/dt=2024-03-28/index.html"]
    assert Page(path.read_text()).metrics["dau"][0] == "4"


# Per-user snapshots are aggregated by pyarrow (`counts`, `exact_sum`, `top_rows`): the figures
# below are checked against literals or a plain-Python reference on literal rows.


def test_exact_sum_is_fsum_whatever_the_values():
    values = [0.1] * 10 + [1e16, 1.0, -1e16, 5e-324, 0.0, -0.0, 0.7, 1 / 3, 2.0**-60, None]
    floats = [v for v in values if v is not None]
    assert exact_sum(pa.array(values, pa.float64())) == math.fsum(floats)
    assert exact_sum(pa.array([0.1] * 10)) == 1.0  # a plain sum gives 0.9999...
    chunked = pa.chunked_array([[0.9, 0.6], [], [1e-300]])
    assert exact_sum(chunked) == math.fsum([0.9, 0.6, 1e-300])
    assert exact_sum(pa.array([], pa.float64())) == 0.0


def test_health_bands_floor_like_python_at_the_edges():
    scores = [0.0, 9.999999999999998, 10.0, 59.99999999999999, 60.0, 99.9, 100.0]
    html = segments_section(
        D, None, pa.table({"health_score": scores, "usage_pattern": ["p"] * len(scores)})
    )
    bands = dict(Page(html).values("account_health", "band", "accounts"))
    assert bands == {
        "0-10": "2", "10-20": "1", "20-30": "0", "30-40": "0", "40-50": "0",
        "50-60": "1", "60-70": "1", "70-80": "0", "80-90": "0", "90-100": "2",
    }  # fmt: skip


def test_alerts_list_the_25_most_severe_and_count_them_all():
    severities = ["warning", "critical", "unknown", "high", "medium"]
    rows = [
        {"entity_type": "user", "entity_id": f"u{i:02d}", "alert": ("b", "a")[i % 2],
         "severity": severities[i % 5], "observed": float(i), "threshold": 1.0, "detail": None}
        for i in range(40)
    ]  # fmt: skip
    page = Page(alerts_section(D, pa.Table.from_pylist(rows)))
    rank = {"critical": 0, "high": 1, "medium": 2, "warning": 3}
    expected = sorted(rows, key=lambda r: (rank.get(r["severity"], 4), r["alert"], r["entity_id"]))[
        :25
    ]
    assert [r[0] for r in page.values("alerts", "entity_id")] == [r["entity_id"] for r in expected]
    assert page.metrics["alerts_open"][0] == "40"
    assert page.values("alerts_summary", "alert", "severity", "alerts") == [
        (alert, severity, "4")
        for severity in ("critical", "high", "medium", "warning", "unknown")
        for alert in ("a", "b")
    ]


def test_the_heatmap_shows_the_12_newest_weekly_cohorts():
    starts = [date(2024, 1, 1) + timedelta(weeks=w) for w in range(14)]
    cells = [
        {"grain": "week", "cohort_start": s, "period_number": 0, "cohort_size": 5, "retained": 5,
         "retention_rate": 1.0, "is_complete": True, "dimension": "all", "dimension_value": "all"}
        for s in starts
    ]  # fmt: skip
    html = retention_section(D, pa.Table.from_pylist(cells), None)
    shown = [r["cohort_start"]["text"] for r in Page(html).rows("retention_week")]
    assert shown == [s.isoformat() for s in starts[2:]]


def publish_rows(root: Path, table: str, keys: dict[str, date], rows: list[dict], schema) -> None:
    """One partition of `table` (its keys' values in `keys`), published like a group's run."""
    warehouse = Warehouse(root, run_id="test")
    staging = warehouse.new_staging("test", table)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), staging / "part-0.parquet")
    folder = warehouse.partition(table, *[(k, v.isoformat()) for k, v in keys.items()])
    warehouse.publish_partition(staging, folder)


def test_the_ingest_counts_are_the_tables_as_they_stand(warehouse, tmp_path):
    """D's run reported 14 new events (EVENTS_RUN); the earlier delivery D - 1, processed
    after it, took 3 of them over. The page counts what `events` holds of D now, and says why
    it differs from the run's report; the delivery's own facts (read, quarantined, duplicates
    within the day) stay the run's."""
    copy = tmp_path / "warehouse"
    shutil.copytree(warehouse, copy)
    before = D - timedelta(days=1)
    key = schema(event_id=S)
    # D landed 15 rows (20 read - 3 quarantined - 2 duplicates within the day): 12 of D,
    # 3 of D - 1 (late).
    publish_rows(copy, "landed_events", {"event_date": D, "arrival_date": D},
                 [{"event_id": f"e{i}"} for i in range(12)], key)  # fmt: skip
    publish_rows(copy, "landed_events", {"event_date": before, "arrival_date": D},
                 [{"event_id": f"l{i}"} for i in range(3)], key)  # fmt: skip
    arrival = schema(event_id=S, arrival_date=DT)
    # `events` now: of D's 12, 2 came first with D - 1; of the 3 late ones, 1 did (and
    # D - 1's own 5 events).
    publish_rows(copy, "events", {"event_date": D},
                 [{"event_id": f"e{i}", "arrival_date": before if i < 2 else D} for i in range(12)],
                 arrival)  # fmt: skip
    publish_rows(copy, "events", {"event_date": before},
                 [{"event_id": f"l{i}", "arrival_date": D if i == 2 else before} for i in range(3)]
                 + [{"event_id": f"o{i}", "arrival_date": before} for i in range(5)],
                 arrival)  # fmt: skip
    page = Page(render(load(copy, D)))
    shown = {k: page.metrics[k][0] for k in ("rows_read", "clean", "duplicates", "quarantined")}
    assert shown == {"rows_read": "20", "clean": "11", "duplicates": "6", "quarantined": "3"}
    assert page.metrics["late_rows"] == ("1", "1")
    assert page.metrics["adds_up"] == ("true", "yes")
    assert page.notes_taken_over == ["3"]


def test_the_erasure_line_counts_the_days_requests_and_erased_rows(warehouse, tmp_path):
    """The ingest's `erased` rows are part of the accounting, and the erasure line counts
    the ledger's requests applied by the day's run (its run id) and their rows."""
    root = tmp_path / "warehouse"
    shutil.copytree(warehouse, root)
    run = {**EVENTS_RUN, "rows_read": 25, "erased": 5, "run_id": "scheduled__D"}
    write_run(root, "events", D, run)
    ledger = [
        {
            "hash": "a" * 64,
            "run_id": "scheduled__D",
            "rows_removed": {"events": 4, "quarantine": 1},
        },
        {"hash": "b" * 64, "run_id": "scheduled__D", "rows_removed": {"events": 2}},
        {"hash": "c" * 64, "run_id": "manual__earlier", "rows_removed": {"events": 7}},
    ]
    (root / "_erasure").mkdir()
    (root / "_erasure" / "ledger.json").write_text(json.dumps({"applied": ledger}))
    html = render(load(root, D))
    page = Page(html)
    assert page.metrics["erased"] == ("5", "5")
    assert page.metrics["adds_up"] == ("true", "yes")
    assert page.metrics["erasure_applied"] == ("2", "2")
    assert page.metrics["erasure_ledger"] == ("3", "3")
    assert "(rows removed: events 6, quarantine 1); " in html


def test_rows_an_erasure_removed_later_move_to_erased():
    """A run read 20 rows: 12 clean, 3 duplicates (1 within the day, 2 of earlier arrivals),
    4 quarantined (3 schema, 1 parse), 1 erased at ingest. Later erasures removed user a's 4
    landed rows (3 of them new events) and 1 schema row, and user b's parse row."""
    run = {
        "rows_read": 20,
        "clean": 12,
        "duplicates": 3,
        "duplicates_within_day": 1,
        "duplicates_of_earlier_arrivals": 2,
        "quarantined": 4,
        "quarantined_by_reason": {"schema": 3, "parse": 1},
        "erased": 1,
        "erased_since": {
            "a": {"landed": 4, "clean": 3, "quarantined": {"schema": 1}},
            "b": {"landed": 0, "clean": 0, "quarantined": {"parse": 1}},
        },
    }
    assert with_later_erasures(run) == {
        **run,
        "clean": 9,
        "duplicates": 2,
        "duplicates_of_earlier_arrivals": 1,
        "quarantined": 2,
        "quarantined_by_reason": {"schema": 2},
        "erased": 7,
    }
    assert with_later_erasures({**run, "erased_since": {}}) == {**run, "erased_since": {}}
