"""Debian's headless Chromium driven by Selenium, for the tests that check pages in a real browser."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def chrome(extra_args: list[str]):
    if not CHROMIUM or not DRIVER:
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run installs "
            "them)"
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must not try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        *extra_args,
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)
