"""A real browser for the tests that drive Airflow's UI: Debian's `chromium` and
`chromium-driver` (installed by `make browser`, which `make test` runs), headless, through
Selenium. Selenium Manager never downloads a browser or a driver: both are given by path and
it is told to stay offline.

Screenshots are test artefacts, kept out of git: `$PULSE_TEST_ARTEFACTS`, by default
`<repo>/build/test-artefacts/`.
"""

from __future__ import annotations

import os
import shutil
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from tests.conftest import REPO_ROOT


def artefacts_dir() -> Path:
    folder = Path(os.environ.get("PULSE_TEST_ARTEFACTS") or REPO_ROOT / "build" / "test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium driven by chromedriver; quit when the block ends."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        raise RuntimeError(
            "chromium and chromedriver are needed on the PATH: `make browser` installs them"
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: no download, whatever happens
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # we run as root in CI
        "--disable-dev-shm-usage",  # a small /dev/shm in containers
        "--window-size=1600,1000",
        "--lang=en-US",  # the date fields' order (mm/dd/yyyy) follows the locale
    ):
        options.add_argument(argument)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


# Airflow 3.3's UI, found by loading its pages and reading `driver.page_source`: the selectors
# below are its data-testids, accessible names, visible texts and form field names, not its
# generated CSS classes or ids.
DIALOG_TITLES = {"Single Run": "Trigger Dag", "Backfill": "Run Backfill"}  # mode -> <h2>
TRIGGER_BUTTON = '[data-testid="trigger-dag-button"]'
TRIGGER_SUBMIT = '[data-testid="trigger-dag-submit"]'
DATETIME_FIELD = '[data-testid="datetime-input"]'  # opens a popover with a date and a time box
POPOVER_DATE, POPOVER_TIME = 'input[placeholder="YYYY/MM/DD"]', 'input[placeholder="HH:mm"]'
POPOVER = f'//*[@role="dialog"][.//{POPOVER_DATE.replace("[", "[@")}]'
EMPTY_DATETIME = "Select date and time"  # what an empty date-time field shows
CLEAR_DATE = 'button[aria-label="Clear start date"]'
MAX_ACTIVE_RUNS = 'input[name="max_active_runs"]'
RUN_ID_CELL, STATE_CELL = (
    'td[data-testid="table-cell-dag_run_id"]',
    'td[data-testid="table-cell-state"]',
)
GRAPH_BUTTON, GRID_BUTTON = 'button[aria-label^="Show Graph"]', '[data-testid="grid-view-button"]'


class AirflowUI:
    """The few pages and dialogs of Airflow's UI the tests use, with polling waits."""

    def __init__(self, driver, url: str, timeout: float = 60) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.url = driver, url
        # React re-renders (and the UI's auto-refresh) replace elements under our feet.
        self._ignored = (StaleElementReferenceException,)
        self._wait = lambda seconds=timeout, every=0.5: WebDriverWait(
            driver, seconds, poll_frequency=every, ignored_exceptions=self._ignored
        )

    def until(self, condition, seconds: float | None = None, every: float = 0.5, what: str = ""):
        """Poll `condition()` until it is truthy; on timeout, keep the page (screenshot and
        HTML in the artefacts) and name it."""
        from selenium.common.exceptions import TimeoutException

        wait = self._wait(seconds, every) if seconds else self._wait(every=every)
        try:
            return wait.until(lambda _: condition())
        except TimeoutException as exc:
            stem = artefacts_dir() / f"timeout-{clock.strftime('%H%M%S')}"
            self.driver.save_screenshot(f"{stem}.png")
            stem.with_suffix(".html").write_text(self.driver.page_source)
            raise TimeoutException(f"waited for {what or condition}; see {stem}.png") from exc

    def find(self, css: str, within=None):
        """The first displayed element matching `css` (under `within`), waited for."""
        return self._visible("css selector", css, within)

    def find_xpath(self, xpath: str, within=None):
        return self._visible("xpath", xpath, within)

    def open_dag(self, dag_id: str) -> None:
        self.driver.get(f"{self.url}/dags/{dag_id}")
        self.find(TRIGGER_BUTTON)

    def dialog(self, *titles: str):
        """The modal titled `titles[0]` (or any of `titles`): "Trigger Dag", "Run Backfill"."""
        heading = " or ".join(f'starts-with(normalize-space(.), "{t}")' for t in titles)
        return self.find_xpath(f'//*[@role="dialog"][.//h2[{heading}]]')

    def open_trigger_dialog(self, mode: str):
        """Click Trigger and choose `mode`, "Single Run" or "Backfill" (the dialog opens in the
        mode it was last left in; its title follows the mode)."""
        self.find(TRIGGER_BUTTON).click()
        self.choose(self.dialog(*DIALOG_TITLES.values()), mode)
        return self.dialog(DIALOG_TITLES[mode])

    def submit(self, button) -> None:
        """Click `button` once the form has enabled it (after its dry run, its validation)."""
        self.until(button.is_enabled, what="the submit button to be enabled")
        button.click()

    def choose(self, dialog, text: str) -> None:
        """Click the radio card (or checkbox) labelled `text`."""
        self.find_xpath(f'.//label[.//*[normalize-space(text())="{text}"]]', dialog).click()

    def text(self, dialog, text: str):
        return self.find_xpath(f'.//*[normalize-space(text())="{text}"]', dialog)

    def pick_datetime(self, dialog, label: str | None, day: date, hhmm: str) -> None:
        """Fill the date-time field labelled `label` (or the dialog's only one)."""
        self._datetime_field(dialog, label).click()
        popover = self.find_xpath(POPOVER)
        self.find(POPOVER_DATE, popover).send_keys(day.strftime("%Y/%m/%d"))
        self.find(POPOVER_TIME, popover).send_keys(hhmm)
        self._close_popover(dialog)
        self.until(lambda: self._datetime_field(dialog, label).text != EMPTY_DATETIME)

    def clear_datetime(self, dialog, label: str | None = None) -> None:
        self._datetime_field(dialog, label).click()
        popover = self.find_xpath(POPOVER)
        self.find(CLEAR_DATE, popover).click()
        self._close_popover(dialog)
        self.until(lambda: self._datetime_field(dialog, label).text == EMPTY_DATETIME)

    def fill_date_param(self, dialog, name: str, day: date) -> None:
        """Type a day into a `format="date"` param's field (`element_<name>`, an HTML date
        input: typed in the locale's order, mm/dd/yyyy with --lang=en-US)."""
        field = self.find(f"#element_{name}", dialog)
        field.send_keys(day.strftime("%m/%d/%Y"))
        self.until(lambda: field.get_attribute("value") == day.isoformat())

    def set_number(self, css: str, value: int, dialog) -> None:
        from selenium.webdriver.common.keys import Keys

        field = self.find(css, dialog)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(str(value))
        self.until(lambda: field.get_attribute("value") == str(value))

    def run_states(self, dag_id: str) -> dict[str, str]:
        """The Runs tab's table: run id -> the state it shows ("Success", "Running", ...)."""
        self.driver.get(f"{self.url}/dags/{dag_id}/runs")
        self.find(STATE_CELL)
        return {
            row.find_element("css selector", RUN_ID_CELL).text.strip(): row.find_element(
                "css selector", STATE_CELL
            ).text.strip()
            for row in self.driver.find_elements("css selector", "tbody tr")
        }

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        return path

    def _datetime_field(self, dialog, label: str | None):
        if label is None:
            return self.find(DATETIME_FIELD, dialog)
        after = f'.//label[normalize-space(.)="{label}"]/following-sibling::*'
        return self.find_xpath(f'{after}[@data-testid="datetime-input"]', dialog)

    def _close_popover(self, dialog) -> None:
        """Click the dialog's title: outside the popover, inside the dialog (Escape would close
        both)."""
        dialog.find_element("xpath", ".//h2").click()
        self.until(
            lambda: not [e for e in self.driver.find_elements("xpath", POPOVER) if e.is_displayed()]
        )

    def _visible(self, by: str, selector: str, within=None):
        def first():
            found = (within or self.driver).find_elements(by, selector)
            return next((e for e in found if e.is_displayed()), None)

        return self.until(first, what=selector)
