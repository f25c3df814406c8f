"""The notebook series in a real JupyterLab, in a real headless browser (Debian's Chromium, selenium).

``scripts/lab.sh`` starts JupyterLab on loopback with the repository's own settings; a double-click
on ``notebooks/02_evolutionary_search.py`` in the file browser must open it as a notebook (the
Jupytext Notebook factory), show its cells, and run the first two in a live kernel. A screenshot
goes to ``PPOL_SCREENSHOT_DIR`` (``docs/screenshots`` to refresh the docs). Skipped without Chromium/chromedriver, failed under CI.
"""

import os
import secrets
import signal
import subprocess
import sys
import time

from pathlib import Path

import httpx
import pytest
from test_blinded_study_browser import REPO, _need_browser, browser, free_port  # noqa: F401 (fixture)


@pytest.fixture
def lab(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHON": sys.executable, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        ["bash", str(REPO / "scripts" / "lab.sh"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={REPO}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a bound on waiting for startup, not a timing assertion
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"jupyter lab exited: {proc.stdout.read()}")
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("jupyter lab did not start")
            time.sleep(0.3)
        yield url, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_double_click_opens_the_jupytext_notebook_and_runs_its_first_cells(lab, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = lab
    browser.set_window_size(1400, 1000)
    browser.get(f"{url}/lab?token={token}")
    wait = WebDriverWait(browser, 90)

    def entry(name):
        return wait.until(lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item")
                                          if e.find_element(By.CSS_SELECTOR, ".jp-DirListing-itemText").text
                                          == name), None))

    ActionChains(browser).double_click(entry("notebooks")).perform()
    ActionChains(browser).double_click(entry("02_evolutionary_search.py")).perform()
    notebook = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"))
    cells = wait.until(lambda d: len(notebook.find_elements(By.CSS_SELECTOR, ".jp-Cell")) >= 10
                       and notebook.find_elements(By.CSS_SELECTOR, ".jp-Cell"))
    assert not browser.find_elements(By.CSS_SELECTOR, ".jp-FileEditor:not(.lm-mod-hidden)")  # not plain text
    assert "jp-MarkdownCell" in cells[0].get_attribute("class") and "jp-CodeCell" in cells[1].get_attribute("class")
    # A live kernel, then run cell 1 (markdown) and cell 2 (the parameters) with Shift+Enter.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']")
               or "Idle" in d.find_element(By.CSS_SELECTOR, ".jp-StatusBar-Widget, #jp-main-statusbar").text)
    cells[0].click()
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    prompt = cells[1].find_element(By.CSS_SELECTOR, ".jp-InputPrompt")
    wait.until(lambda d: prompt.text.strip() == "[1]:")
    rendered = cells[0].find_element(By.CSS_SELECTOR, ".jp-RenderedMarkdown")
    assert "Evolutionary search" in rendered.text
    browser.execute_script("for (const e of document.querySelectorAll('.jp-NotebookPanel .jp-WindowedPanel-outer')) "
                           "e.scrollTop = 0;")
    time.sleep(0.5)  # let the scrolled view paint before the screenshot (not an assertion)
    shots = Path(os.environ.get("PPOL_SCREENSHOT_DIR") or tmp_path)  # =docs/screenshots refreshes the docs
    shots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shots / "jupyterlab-notebook-02.png"))
