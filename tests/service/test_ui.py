"""The /ui demo page in a real browser (Debian chromium through its chromedriver) against a real server.

Set PAIRSCORE_UI_SCREENSHOT=path.png to keep a copy of the screenshot taken after scoring a pair.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="the dev extra's selenium drives the browser")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
]


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def fill(browser, task: str, a: str, b: str) -> None:
    Select(browser.find_element(By.ID, "task")).select_by_value(task)
    # set the values directly: typing a long text key by key is slow
    browser.execute_script(
        "document.getElementById('text-a-input').value = arguments[0];"
        "document.getElementById('text-b-input').value = arguments[1];",
        a,
        b,
    )
    browser.find_element(By.ID, "submit").click()


def shown_weights(browser, container: str) -> list[float]:
    return [
        float(span.get_attribute("data-weight"))
        for span in browser.find_elements(By.CSS_SELECTOR, f"#{container} .tok")
    ]


def test_a_pair_is_scored_and_shaded_as_the_endpoints_say(browser, server, client, tmp_path):
    premise, hypothesis = "A man is playing a guitar on stage.", "A man is playing music."
    browser.get(f"{server.url}/ui")
    fill(browser, "entailment", premise, hypothesis)
    wait = WebDriverWait(browser, 30)
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#text-b .tok")))
    expected = client.post("/entailment", json={"pairs": [{"premise": premise, "hypothesis": hypothesis}]}).json()[0]
    assert browser.find_element(By.ID, "label").text == expected["label"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#probabilities .bar")) == 3
    explained = client.post("/explain", json={"task": "entailment", "text_a": premise, "text_b": hypothesis}).json()
    for side, container in (("text_a", "text-a"), ("text_b", "text-b")):
        weights = shown_weights(browser, container)
        assert len(weights) == len(explained[side]["tokens"])
        assert max(abs(w - e) for w, e in zip(weights, explained[side]["weights"])) <= 1e-6
    assert browser.find_element(By.ID, "text-a").text == premise  # the original text, shaded in place
    shot = tmp_path / "ui.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("PAIRSCORE_UI_SCREENSHOT"):
        shutil.copy(shot, os.environ["PAIRSCORE_UI_SCREENSHOT"])


def test_ranking_shows_the_answers_in_the_endpoint_order(browser, server, client):
    question, answers = (
        "Who wrote Hamlet?",
        ["Paris is in France.", "Hamlet is a tragedy by William Shakespeare.", "It rains."],
    )
    browser.get(f"{server.url}/ui/")
    fill(browser, "ranking", question, "\n".join(answers))
    WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#ranked .ranked")) == 3)
    ranked = client.post("/rank", json={"question": question, "answers": answers}).json()
    shown = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#ranked .ranked")]
    assert [answers[r["index"]] in text for r, text in zip(ranked, shown)] == [True] * 3
    assert browser.find_element(By.ID, "label").text == f"#{ranked[0]['index'] + 1}"


def test_an_error_body_is_shown(browser, server):
    browser.get(f"{server.url}/ui/")
    fill(browser, "paraphrase", "x" * 2001, "short")  # PAIRSCORE_MAX_CHARS is 2000 in the test server
    error = WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.ID, "error")))
    assert "413" in error.text and "limit_exceeded" in error.text and "PAIRSCORE_MAX_CHARS" in error.text
    assert not browser.find_element(By.ID, "result").is_displayed()
