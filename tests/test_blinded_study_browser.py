"""The served blinded study in a real headless browser (Debian's Chromium, driven by selenium).

``ppol-nb study serve`` runs as a subprocess on a free port. Two annotators rate items, one
agree on the consent page first (no item before it) and see the unscored practice item, the
pages fit a 390 px phone window without sideways scrolling, a stale second tab is told its item
was answered elsewhere, one reloads and resumes, the server is killed (SIGKILL) and restarted mid-study, and every answer
is in the store exactly once; no page text or network response body contains a source label.
Chromium and chromedriver come from ``scripts/setup.sh`` / ``.ci/run`` (apt); without them the
test is skipped, except under CI (``CI=true``), where it fails.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from study_conversations import assert_blind, make_sources, make_study

from ppol_nb.apps.annotation_app import AnswerStore, export_answers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[1]


def _need_browser():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        message = f"browser test needs {', '.join(missing)} (installed by scripts/setup.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ppol-nb study serve`` in a subprocess; ``kill`` is SIGKILL (no clean shutdown)."""

    def __init__(self, study: Path, tokens: Path, port: int, probe_token: str):
        self.args = [sys.executable, "-m", "ppol_nb.cli", "study", "serve", str(study), "--port", str(port),
                     "--tokens", str(tokens)]
        self.url = f"http://127.0.0.1:{port}"
        self.probe = f"{self.url}/api/{probe_token}/progress"
        self.proc = None

    def start(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(self.args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30  # a bound on waiting for startup, not a timing assertion
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.probe, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def response_bodies(driver) -> list[str]:
    """Bodies of every network response since the last call (from Chrome's performance log)."""
    from selenium.common.exceptions import WebDriverException

    bodies, skipped = [], 0
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] != "Network.loadingFinished":
            continue
        try:
            body = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": message["params"]["requestId"]})
        except WebDriverException:  # a redirect has no body to check
            skipped += 1
        else:
            bodies.append(body["body"])
    return bodies


def test_two_annotators_reload_and_server_kill_in_a_real_browser(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    study = make_study(tmp_path, make_sources(tmp_path))
    tokens = {"a01": "tok-a01-" + "x" * 12, "a02": "tok-a02-" + "y" * 12}
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("".join(f"{n} {t}\n" for n, t in tokens.items()))
    server = Server(study, tokens_file, free_port(), tokens["a01"])
    seen_bodies: list[str] = []
    network_bodies: list[str] = []  # what came over the wire, beside what the page shows

    def page_text() -> str:
        text = browser.find_element(By.TAG_NAME, "body").text
        seen_bodies.append(browser.page_source)
        seen_bodies.append(text)
        network_bodies.extend(response_bodies(browser))
        return text

    def rate(answer: str, confidence: int, comment: str = "") -> str:
        item = browser.find_element(By.CSS_SELECTOR, 'input[name="item"]').get_attribute("value")
        browser.find_element(By.CSS_SELECTOR, f'input[name="answer"][value="{answer}"]').click()
        browser.find_element(By.CSS_SELECTOR, f'input[name="confidence"][value="{confidence}"]').click()
        if comment:
            browser.find_element(By.NAME, "comment").send_keys(comment)
        form = browser.find_element(By.TAG_NAME, "form")
        browser.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        # Wait for the next page (a synchronisation point, not a timing assertion).
        WebDriverWait(browser, 20).until(staleness_of(form))
        return item

    def consent() -> None:
        """The first page is the instructions: no item until the box is ticked; then the practice item."""
        text = page_text()
        assert "Before you start" in text and "What is stored" in text and "minutes" in text
        assert not browser.find_elements(By.CSS_SELECTOR, 'input[name="item"]')
        form = browser.find_element(By.TAG_NAME, "form")
        browser.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()  # unticked: the browser refuses
        assert browser.find_element(By.TAG_NAME, "form") == form
        browser.find_element(By.NAME, "agree").click()
        browser.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        WebDriverWait(browser, 20).until(staleness_of(form))
        assert "not saved or scored" in page_text()  # the practice conversation
        form = browser.find_element(By.TAG_NAME, "form")
        browser.find_element(By.CSS_SELECTOR, 'input[name="practice_answer"][value="bot"]').click()
        browser.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        WebDriverWait(browser, 20).until(staleness_of(form))

    def no_sideways_scroll() -> None:
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1] == 390, width

    n = len(json.loads((study / "study.json").read_text())["items"])
    server.start()
    try:
        rated = []
        # A phone-sized window: 390 CSS px wide, as an iPhone 12-15.
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        browser.get(f"{server.url}/a/{tokens['a01']}")
        no_sideways_scroll()
        shots = Path(os.environ.get("PPOL_SCREENSHOT_DIR") or tmp_path)  # =docs/screenshots refreshes the docs
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "study-consent-390px.png"))
        consent()
        assert f"Answered 0 of {n}" in page_text()
        no_sideways_scroll()
        evil = "<script>window.__pwned = 1</script>"
        rated.append(("a01", rate("human", 4, evil)))
        assert f"Answered 1 of {n}" in page_text()
        rated.append(("a01", rate("bot", 2)))
        browser.refresh()  # a reload resumes at the third item
        assert f"Answered 2 of {n}" in page_text()
        browser.get(f"{server.url}/a/{tokens['a01']}?item={rated[0][1]}")  # the comment comes back as text
        assert browser.find_element(By.NAME, "comment").get_attribute("value") == evil
        assert browser.execute_script("return window.__pwned === undefined")
        page_text()

        browser.delete_all_cookies()
        browser.get(f"{server.url}/a/{tokens['a02']}")
        consent()
        assert f"Answered 0 of {n}" in page_text()
        rated.append(("a02", rate("not_sure", 1)))
        assert f"Answered 1 of {n}" in page_text()

        server.kill()  # mid-study, no clean shutdown
        server.start()
        browser.get(f"{server.url}/a/{tokens['a02']}")
        assert f"Answered 1 of {n}" in page_text()
        rated.append(("a02", rate("human", 5)))
        browser.get(f"{server.url}/a/{tokens['a01']}")
        assert f"Answered 2 of {n}" in page_text()
        rated.append(("a01", rate("bot", 3)))
        assert f"Answered 3 of {n}" in page_text()

        # Two tabs on one link: the second, opened before the first saved, is told and offered the next item.
        first = browser.current_window_handle
        browser.switch_to.new_window("tab")
        browser.get(f"{server.url}/a/{tokens['a01']}")
        stale_item = browser.find_element(By.CSS_SELECTOR, 'input[name="item"]').get_attribute("value")
        browser.switch_to.window(first)
        browser.refresh()
        rated.append(("a01", rate("human", 2)))
        assert rated[-1][1] == stale_item
        browser.switch_to.window(browser.window_handles[-1])
        rate("bot", 5)  # saved from the stale tab: refused, nothing stored
        text = page_text()
        assert "already answered in another tab" in text and "not saved" in text
        browser.find_element(By.ID, "next").click()
        assert f"Answered 4 of {n}" in page_text()
        assert browser.find_element(By.CSS_SELECTOR, 'input[name="item"]').get_attribute("value") != stale_item
    finally:
        server.kill()

    rows = AnswerStore(study / "answers.sqlite").revisions()
    assert sorted((r["annotator"], r["item"]) for r in rows) == sorted(rated)  # each answer exactly once
    assert len(set(rated)) == len(rated)
    table = export_answers(study)
    assert len(table) == len(rated)
    assert table["consented_at"].notna().all()
    assert sorted(AnswerStore(study / "answers.sqlite").consents()) == ["a01", "a02"]
    assert sum("Answered" in b for b in network_bodies) >= len(rated)
    for body in seen_bodies + network_bodies:
        assert_blind(body)
