"""Reading a daily report (`include/report/`) back with the stdlib's html.parser, for the
tests: its metrics, its data tables, its "no data yet" sections, what it links to."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser


class Page(HTMLParser):
    """The machine-readable parts of a report: metrics, tables, "no data yet" sections, and
    every attribute that could load something (src, href, url(...))."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.metrics: dict[str, tuple[str, str]] = {}  # name -> (data-value, text shown)
        self.tables: dict[str, list[dict[str, dict[str, str]]]] = {}
        self.empty: dict[str, str] = {}
        # Per section (data-section): the snapshot it shows (data-snapshot, '' for none), and
        # its title (the h2 text).
        self.snapshots: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        # The quality section's note when the tables differ from the ingest's run report.
        self.notes_taken_over: list[str] = []
        self._section: str | None = None
        self.links: list[tuple[str, str, str]] = []
        self.tags: Counter[str] = Counter()
        self._metric: tuple[str, str] | None = None
        self._table: str | None = None
        self._cell: dict[str, str] | None = None
        self._empty: str | None = None
        self._text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags[tag] += 1
        for name in ("src", "href", "xlink:href", "data", "poster", "srcset"):
            if name in a:
                self.links.append((tag, name, a[name]))
        if "data-metric" in a:
            self._metric, self._text = (a["data-metric"], a.get("data-value", "")), []
        if tag == "table" and "data-table" in a:
            self._table = a["data-table"]
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append({})
        if tag == "td" and self._table is not None:
            self._cell, self._text = a, []
        if "data-empty" in a:
            self._empty, self._text = a["data-empty"], []
        if "data-taken-over" in a:
            self.notes_taken_over.append(a["data-taken-over"])
        if "data-section" in a:
            self._section = a["data-section"]
            self.snapshots[self._section] = a.get("data-snapshot", "")
        if tag == "h2":
            self._text = []

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text)
        if self._metric is not None and tag in ("span", "h1"):
            self.metrics[self._metric[0]] = (self._metric[1], text)
            self._metric = None
        if tag == "td" and self._cell is not None:
            self.tables[self._table][-1][self._cell["data-col"]] = {**self._cell, "text": text}
            self._cell = None
        if tag == "table":
            self._table = None
        if tag == "h2" and self._section is not None:
            self.titles[self._section] = text
        if tag == "p" and self._empty is not None:
            self.empty[self._empty] = text
            self._empty = None

    def rows(self, name: str) -> list[dict[str, dict[str, str]]]:
        return [row for row in self.tables[name] if row]  # the header row has no td

    def values(self, name: str, *columns: str) -> list[tuple[str, ...]]:
        return [tuple(row[c]["data-value"] for c in columns) for row in self.rows(name)]
