"""A real browser: `corenets serve` in a subprocess, headless Chromium uploads an image through the page's
file input, and the top class shown on the page must equal `corenets predict` for the same file.

Needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver) and selenium
(pip install selenium); skipped, with the reason, when any is missing. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                       reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("fastapi", reason="serving needs the [serve] extra")
    pytest.importorskip("uvicorn", reason="serving needs the [serve] extra")
    from tiny_runs import image_run

    run = image_run(tmp_path, model="seed_cnn")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "corenets", "serve", str(run), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):  # up to 30 s for imports on a busy machine
            try:
                urllib.request.urlopen(url + "health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"corenets serve exited: {proc.stdout.read()}")
                time.sleep(0.1)
        yield url, run
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for drivers online
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1000,1100", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_upload_in_the_browser_matches_corenets_predict(server, browser, tmp_path, capsys):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from corenets.cli import main

    url, run = server
    image = tmp_path / "shoe.png"
    Image.fromarray(np.random.default_rng(7).integers(0, 256, (28, 28)).astype(np.uint8)).save(image)
    assert main(["predict", str(run), str(image), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)[0]["top"][0]["class"]

    browser.get(url)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    assert "img-seed_cnn" in browser.find_element(By.ID, "title").text
    assert "class0, class1, class2, class3" in browser.find_element(By.ID, "card").text
    # keyboard only: Tab reaches the file picker first; after a file is chosen, focus is on Predict and Enter sends
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "file"
    browser.find_element(By.ID, "file").send_keys(str(image))
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "image-submit")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    top = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#results .top-class")))
    assert top.text == expected
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results .bar-row")) == 4
    shots = os.environ.get("CORENETS_SCREENSHOTS")  # set it to keep a picture of the page
    if shots:
        browser.save_screenshot(str(Path(shots) / "serve-image.png"))

    # a file that is not an image: the page shows the server's error, and the next upload still works
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.ID, "image-submit").click()
    err = wait.until(EC.visibility_of_element_located((By.ID, "error")))
    assert "notes.png is not an image" in err.text
    browser.find_element(By.ID, "image-clear").click()  # chromedriver adds to a `multiple` input's files
    browser.find_element(By.ID, "file").send_keys(str(image))
    browser.find_element(By.ID, "image-submit").click()
    wait.until(lambda d: not d.find_element(By.ID, "error").is_displayed())
    assert wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#results .top-class"))).text == expected
