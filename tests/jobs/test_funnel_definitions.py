"""The funnels file: what it reads, and each mistake failing with the file, funnel and field."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from include.pulse.config import ConfigError
from jobs.funnel_definitions import Funnel, Funnels, FunnelsFileError, Step, load, parse

pytestmark = pytest.mark.unit

CHECKOUT = {
    "name": "checkout",
    "steps": ["catalog", "product_view", {"event": "purchase", "where": {"plan": "pro"}}],
    "window_seconds": 86400,
}


def test_the_issue_example_reads_into_typed_funnels(tmp_path):
    path = tmp_path / "funnels.json"
    path.write_text(json.dumps({"funnels": [CHECKOUT]}))
    assert load(str(path)) == Funnels(
        (
            Funnel(
                name="checkout",
                steps=(
                    Step("catalog"),
                    Step("product_view"),
                    Step("purchase", (("plan", "pro"),)),
                ),
                window_seconds=86400,
                bin_seconds=1440,  # 60 bins over the day
            ),
        ),
        str(path),
    )


def test_no_file_means_no_funnels():
    assert load(None) == Funnels()


def test_property_filters_keep_their_json_type_and_bins_may_be_set():
    funnels = parse(
        {
            "funnels": [
                {
                    "name": "typed",
                    "steps": [
                        "a",
                        {"event": "b", "where": {"properties.n": 2, "properties.ok": True}},
                    ],
                    "window_seconds": 90,
                    "bin_seconds": 30,
                }
            ]
        }
    )
    (funnel,) = funnels.funnels
    assert funnel.steps[1].where == (("properties.n", 2), ("properties.ok", True))
    assert (funnel.window_seconds, funnel.bin_seconds) == (90, 30)


def funnel(**changes):
    return {**CHECKOUT, **changes}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], r"must be an object with one key, \"funnels\""),
        ({"funnels": [], "extra": 1}, r"must be an object with one key"),
        ({"funnels": {}}, r"\"funnels\" must be a list"),
        ({"funnels": ["checkout"]}, r"funnels\[0\]: must be an object"),
        ({"funnels": [funnel(name="check out")]}, r"funnels\[0\]: name: 'check out' must be"),
        ({"funnels": [funnel(name=None)]}, r"funnels\[0\]: name: None must be"),
        (
            {"funnels": [funnel(), funnel()]},
            r"funnels\[1\] \('checkout'\): name: used by another funnel",
        ),
        (
            {"funnels": [funnel(window=60)]},
            r"funnels\[0\] \('checkout'\): unknown field\(s\) \['window'\]",
        ),
        ({"funnels": [funnel(window_seconds=0)]}, r"\('checkout'\): window_seconds: 0 must be"),
        ({"funnels": [funnel(window_seconds=1.5)]}, r"window_seconds: 1.5 must be a positive"),
        ({"funnels": [funnel(window_seconds=True)]}, r"window_seconds: True must be a positive"),
        (
            {"funnels": [{k: v for k, v in CHECKOUT.items() if k != "window_seconds"}]},
            r"window_seconds: None must be a positive",
        ),
        ({"funnels": [funnel(bin_seconds=-5)]}, r"\('checkout'\): bin_seconds: -5 must be"),
        ({"funnels": [funnel(steps=["catalog"])]}, r"\('checkout'\): steps: must be a list of 2"),
        ({"funnels": [funnel(steps=["s"] * 33)]}, r"steps: must be a list of 2..32 steps"),
        ({"funnels": [funnel(steps=["catalog", 7])]}, r"\('checkout'\): steps\[1\]: must be an"),
        ({"funnels": [funnel(steps=["catalog", ""])]}, r"steps\[1\]: '' is not an event name"),
        (
            {"funnels": [funnel(steps=["catalog", {"name": "x"}])]},
            r"steps\[1\]: unknown field\(s\) \['name'\]",
        ),
        (
            {"funnels": [funnel(steps=["catalog", {"where": {}}])]},
            r"steps\[1\]\.event: None is not an event name",
        ),
        (
            {"funnels": [funnel(steps=["catalog", {"event": "b", "where": ["plan"]}])]},
            r"steps\[1\]\.where: must be an object",
        ),
        (
            {"funnels": [funnel(steps=["catalog", {"event": "b", "where": {"tier": "x"}}])]},
            r"\('checkout'\): steps\[1\]\.where\.tier: not a filter: use a column",
        ),
        (
            {"funnels": [funnel(steps=["catalog", {"event": "b", "where": {"plan": 3}}])]},
            r"steps\[1\]\.where\.plan: 3 must be a string \(a column value\)",
        ),
        (
            {"funnels": [funnel(steps=["a", {"event": "b", "where": {"properties.x": 1.5}}])]},
            r"steps\[1\]\.where\.properties\.x: 1.5 must be a string, integer or boolean",
        ),
        (
            {"funnels": [funnel(steps=["a", {"event": "b", "where": {"properties.x": None}}])]},
            r"where\.properties\.x: None must be a string, integer or boolean",
        ),
        (
            {"funnels": [funnel(steps=["a", {"event": "b", "where": {"properties.": "v"}}])]},
            r"where\.properties\.: not a filter",
        ),
    ],
)
def test_each_mistake_names_the_file_funnel_and_field(tmp_path, document, message):
    path = tmp_path / "funnels.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FunnelsFileError, match=f"^{path}: .*{message}"):
        load(str(path))


def test_a_missing_or_broken_file_names_itself(tmp_path):
    with pytest.raises(FunnelsFileError, match=r"PULSE_FUNNELS_FILE=.*nope\.json: cannot read"):
        load(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"funnels": [\n  {"name": "x",}\n]}')
    with pytest.raises(
        FunnelsFileError,
        match=r"broken\.json: not JSON \(line 2, column \d+: Expecting property name",
    ):
        load(str(broken))
    assert issubclass(FunnelsFileError, ConfigError)


def test_the_reach_of_a_window_in_days_and_across_a_daylight_saving_change():
    day = parse({"funnels": [funnel(window_seconds=86400)]})
    hour = parse({"funnels": [funnel(window_seconds=3600)]})
    x = date(2024, 3, 10)
    # UTC: events of X reach the entries of X - ceil(window / 1 day) .. X.
    assert day.reach_back(x, "UTC") == date(2024, 3, 9)
    assert hour.reach_back(x, "UTC") == date(2024, 3, 9)
    assert parse({"funnels": [funnel(window_seconds=86401)]}).reach_back(x, "UTC") == date(
        2024, 3, 8
    )
    assert Funnels().reach_back(x, "UTC") == x
    # New York springs forward on 2024-03-10 (a 23-hour day): an entry of 03-08 at 23:59
    # local plus 2 days ends on 03-11 at 00:59 local; the entries of 03-08 reach 03-11.
    two_days = parse({"funnels": [funnel(window_seconds=2 * 86400)]})
    (f,) = two_days.funnels
    assert f.last_event_date(date(2024, 3, 8), "America/New_York") == date(2024, 3, 11)
    assert f.last_event_date(date(2024, 3, 8), "UTC") == date(2024, 3, 10)
    assert two_days.reach_back(date(2024, 3, 11), "America/New_York") == date(2024, 3, 8)
    assert two_days.reach_back(date(2024, 3, 11), "UTC") == date(2024, 3, 9)
    assert f.window_closes(date(2024, 3, 8), "America/New_York") == datetime(2024, 3, 11, 5)
