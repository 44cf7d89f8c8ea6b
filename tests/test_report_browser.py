"""The HTML report in a real browser (Debian's chromium and chromedriver, via Selenium):
every page loads without console errors, every link and image resolves, from file:// and
from a static web server; clicking a column header sorts the leaderboard; full-page
screenshots are written for review (``WMHEVAL_SCREENSHOTS`` or a temporary folder).

On CI (``CI`` set) a missing browser fails these tests instead of skipping them.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import report_fixtures
from browser_fixtures import headless_chromium

from wmheval.ranking import rank_field

small_challenge = report_fixtures.small_challenge
small_submissions = report_fixtures.small_submissions
small_report = report_fixtures.small_report



@pytest.fixture(scope="module")
def driver():
    yield from headless_chromium("1400,1000", "--allow-file-access-from-files")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("WMHEVAL_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def server(small_report):
    """A static web server (Python's http.server) over the report folder."""
    out = small_report[0]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))

    class Quiet(handler.func):  # no request log on stderr
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _pages(out: Path) -> list[Path]:
    return [out / "index.html", *sorted((out / "teams").glob("*.html"))]


def _load(driver, url: str) -> list[dict]:
    driver.get_log("browser")  # drop earlier messages
    driver.get(url)
    driver.execute_script(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager');")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && "
        "Array.from(document.images).every(i => i.complete);"))
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def _screenshot(driver, path: Path) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(1400, min(max(int(height) + 120, 800), 16000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def _check_page(driver, url: str, fetch) -> None:
    problems = _load(driver, url)
    assert problems == [], (url, problems)
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
        ".map(i => i.getAttribute('src'));")
    assert broken == [], (url, broken)
    images = driver.execute_script("return document.images.length;")
    links = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);")
    assert links, url
    for link in links:
        target, _, fragment = link.partition("#")
        assert fetch(target), (url, link)
        if fragment and target.split("?")[0] == url.split("#")[0]:
            assert driver.execute_script("return document.getElementById(arguments[0]) !== "
                                         "null;", urllib.parse.unquote(fragment)), (url, link)
    return images


def _file_exists(url: str) -> bool:
    return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).is_file()


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status == 200


def test_every_page_loads_cleanly_from_file_urls(driver, small_report, screenshots):
    out = small_report[0]
    total_images = 0
    for page in _pages(out):
        total_images += _check_page(driver, page.as_uri(), _file_exists)
        _screenshot(driver, screenshots / f"file_{page.stem}.png")
    # The index shows the figure set and the extra set; each team page three overlays.
    assert total_images >= 10 + 1 + 3 * len(report_fixtures.REPORT_TEAMS) - 3
    assert (screenshots / "file_index.png").read_bytes()[:4] == b"\x89PNG"


def test_every_page_loads_cleanly_from_a_static_server(driver, small_report, server,
                                                       screenshots):
    out = small_report[0]
    for page in _pages(out):
        relative = page.relative_to(out).as_posix()
        _check_page(driver, server + relative, _http_ok)
    _screenshot(driver, screenshots / "http_last_team.png")


def test_clicking_a_header_sorts_the_leaderboard(driver, small_report):
    from selenium.webdriver.common.by import By

    out, field, _ = small_report
    _load(driver, (out / "index.html").as_uri())
    table = driver.find_element(By.ID, "leaderboard-table")
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    titles = [h.get_attribute("title") for h in headers]

    def column(name: str) -> list[str]:
        k = titles.index(name) + 1
        return [c.get_attribute("data-value") or c.text for c in
                table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({k})")]

    ranking = rank_field(field)
    assert column("team") == list(ranking["team"])  # official order first
    dice = headers[titles.index("dice")]
    dice.click()
    assert dice.get_attribute("aria-sort") == "ascending"
    expected = ranking.sort_values("dice", kind="stable")
    assert [float(v) for v in column("dice")] == sorted(float(v) for v in ranking["dice"])
    assert column("team") == list(expected["team"])
    dice.click()
    assert dice.get_attribute("aria-sort") == "descending"
    assert column("team") == list(expected["team"])[::-1]
    team = headers[titles.index("team")]
    team.click()
    assert column("team") == sorted(ranking["team"], key=str.lower)


def test_team_page_table_sorts_and_marks_unseen_rows(driver, small_report):
    from selenium.webdriver.common.by import By

    out, field, _ = small_report
    _load(driver, (out / "teams" / "greedy.html").as_uri())
    rows = driver.find_elements(By.CSS_SELECTOR, "table.sortable tbody tr")
    cases = field.cases[field.cases["team"] == "greedy"]
    assert len(rows) == len(cases)
    unseen = {str(i) for i in cases.loc[~cases["seen_in_training"].astype(bool), "id"]}
    marked = {r.find_element(By.CSS_SELECTOR, "td").text for r in rows
              if "unseen" in (r.get_attribute("class") or "")}
    assert marked == unseen and unseen
    assert pd.notna(cases["dice"]).any()
