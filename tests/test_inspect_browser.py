"""The page's explanation view in a real browser: Chromium driven as tests/serve/test_browser.py drives it."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("captum")

from serve.test_browser import CHROMIUM, DRIVER, browser, server  # noqa: E402, F401 - the same server and browser

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                       reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"),
]


def test_the_page_shows_the_attribution_with_the_prediction(server, browser, tmp_path):
    """Upload an image: the prediction appears, then its Grad-CAM overlay (from POST /explain) under it."""
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    image = tmp_path / "shoe.png"
    Image.fromarray(np.random.default_rng(7).integers(0, 256, (28, 28)).astype(np.uint8)).save(image)
    browser.get(url)
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    browser.find_element(By.ID, "file").send_keys(str(image))
    browser.find_element(By.ID, "image-submit").click()
    img = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .why img.attribution"))[0]
    top = browser.find_element(By.CSS_SELECTOR, "#results .top-class").text
    assert img.get_attribute("alt") == f"grad-cam for {top}"
    assert wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)) >= 28
    heading = browser.find_element(By.CSS_SELECTOR, "#results .why h4").text
    assert heading == f"Why {top}"
