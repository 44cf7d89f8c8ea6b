"""Hostile team names, notes and URLs rendered inert in headless Chromium; the board sorts
by a clicked header; screenshots at a phone's and a laptop's width (``WMHEVAL_SCREENSHOTS``
or a temporary folder). Skipped without selenium and chromium, except on CI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import board_fixtures
import pytest
from board_fixtures import new_board, wmheval
from browser_fixtures import headless_chromium

mini_reference = board_fixtures.mini_reference
small_challenge = board_fixtures.small_challenge
small_submissions = board_fixtures.small_submissions
team_archives = board_fixtures.team_archives
team_folders = board_fixtures.team_folders

HOSTILE = [
    "<script>alert('name')</script>",
    "\"><img src=x onerror=alert('img')>",
    "</td></tr></table><iframe src=javascript:alert('frame')></iframe>",
    "Robert'); DROP TABLE teams;--",
    "{{ 7*7 }} {% raw %}",
    "\u202eevil\u202c RTL",
]
NOTES = ["<b onmouseover=alert('note')>bold</b>", "<script>document.title='pwned'</script>"]
URLS = ["javascript:alert('url')", "https://example.org/method?a=1&b=<2>"]


@pytest.fixture(scope="module")
def driver():
    yield from headless_chromium("1366,900")


@pytest.fixture(scope="module")
def hostile_site(mini_reference, team_archives, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    root = tmp / "ch"
    board = new_board(root, mini_reference, teams=HOSTILE, bootstrap=100, limit=0)
    archives = ["precise", "greedy", "noisy", "cautious", "brittle", "incomplete"]
    for k, (name, archive) in enumerate(zip(HOSTILE, archives, strict=True)):
        board.submit(team_archives[archive], name, note=NOTES[k % 2], method_url=URLS[k % 2])
    board.close()
    site = tmp / "site"
    result = wmheval("board", "build", root, "--out", site)
    assert result.returncode == 0, result.stderr
    return site


def _no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


def test_hostile_names_notes_and_urls_are_inert(driver, hostile_site, tmp_path_factory):
    from selenium.webdriver.common.by import By

    pages = [hostile_site / "index.html", *sorted((hostile_site / "teams").glob("*.html"))]
    assert len(pages) == 1 + len(HOSTILE)
    for page in pages:
        driver.get(page.as_uri())
        _no_alert(driver)
        assert "pwned" not in driver.title
        assert driver.find_elements(By.TAG_NAME, "iframe") == []
        assert driver.find_elements(By.TAG_NAME, "img") == []
        assert len(driver.find_elements(By.TAG_NAME, "script")) == 1  # the sorter only
        assert driver.find_elements(By.CSS_SELECTOR, "[onerror],[onmouseover]") == []
        for link in driver.find_elements(By.TAG_NAME, "a"):
            href = link.get_attribute("href") or ""
            assert not href.lower().startswith(("javascript:", "data:")), href
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == [], severe
    driver.get((hostile_site / "index.html").as_uri())
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "td.team > a")]
    assert sorted(names) == sorted(n.strip() for n in HOSTILE)
    linked = set()
    for page in pages[1:]:
        driver.get(page.as_uri())
        linked |= {a.get_attribute("href") for a in driver.find_elements(
            By.CSS_SELECTOR, "a[rel~=nofollow]")}
    assert linked == {"https://example.org/method?a=1&b=%3C2%3E"}
    board = json.loads((hostile_site / "board.json").read_text())
    assert sorted(e["team"] for e in board["entries"]) == sorted(HOSTILE)


def test_board_sorts_and_fits_phone_and_laptop(driver, hostile_site, tmp_path_factory):
    from selenium.webdriver.common.by import By

    folder = os.environ.get("WMHEVAL_SCREENSHOTS")
    shots = Path(folder) if folder else tmp_path_factory.mktemp("board_shots")
    shots.mkdir(parents=True, exist_ok=True)
    driver.get((hostile_site / "index.html").as_uri())
    heads = driver.find_elements(By.CSS_SELECTOR, "table.board thead th")
    dice = next(h for h in heads if h.text.startswith("Dice"))
    dice.click()
    values = [float(c.get_attribute("data-value")) for c in driver.find_elements(
        By.CSS_SELECTOR, f"table.board tbody td:nth-child({heads.index(dice) + 1})")]
    assert values == sorted(values)
    for name, (width, height) in {"laptop": (1366, 900), "phone": (390, 844)}.items():
        driver.set_window_size(width, height)
        driver.get((hostile_site / "index.html").as_uri())
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"
        driver.save_screenshot(str(shots / f"board-{name}.png"))
    driver.set_window_size(1366, 900)
