"""The daily report: one self-contained HTML page per arrival day, for analysts.

It reads the published warehouse only (`inputs`), as an analyst does, and turns run reports
and pyarrow tables into HTML with pure functions (`sections/`, assembled by `page.render`);
`task` writes pages: `{warehouse}/reports/dt=D/index.html`, atomically (with an `s3://`
warehouse, in the working copy, then mirrored to the bucket). No network is needed to open a
page: charts are matplotlib SVG inlined (`charts`), no script, no external font or image.
Every headline number is an element with `data-metric` and every chart's data is also an HTML
table (`markup`), so a page can be read back by a program (`tests/report_page.py`).

Grain: one page per arrival day D; a later run that recomputes an earlier day's snapshots
renders that day's page again if it has one. Bounded in users and history: per-user snapshots
are aggregated in pyarrow (`arrow`), `active_users` is read for 90 days, every other mart as
one snapshot.

    python -m include.report --date 2024-03-28 [--warehouse URI] [--out FILE]
"""
