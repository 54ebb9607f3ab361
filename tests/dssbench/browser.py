"""Headless Chromium for the report tests and tools/screenshots.py.

Debian's ``chromium`` driven by Selenium through Debian's ``chromedriver`` (the two come from
the same Chromium build, so they always match). Both paths are given explicitly: Selenium
Manager, which would otherwise download a driver or a browser, is never started, and
Chromium runs with the flags a closed network needs (no background connections).

Pages are laid out at an exact CSS viewport (``Emulation.setDeviceMetricsOverride``, not the
window size, which includes nothing on one Chromium build and a border on another), and the
page's uncaught errors are recorded by a listener installed before any script of the page
runs, beside what Chromium itself logs at level SEVERE (``console.error``, failed loads).
"""

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM = os.environ.get("NODEOPS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NODEOPS_CHROMEDRIVER", "/usr/bin/chromedriver")

#: A DSS dashboard tile of the size the reports are designed for (CSS pixels).
TILE = (560, 420)

#: Chromium's flags: headless, as root, and no connection of its own on a closed network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-color-profile=srgb")

#: The tallest full-page screenshot taken (CSS pixels); a longer page is cut there.
MAX_FULL_HEIGHT = 8000

# Runs in every page before its own scripts: uncaught errors and rejected promises.
_RECORD_ERRORS = """
window.__nodeopsErrors = [];
window.addEventListener('error', function (e) {
  window.__nodeopsErrors.push('page error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__nodeopsErrors.push('unhandled rejection: ' + e.reason);
});
"""


def missing():
    """Why the browser cannot run here (None when it can)."""
    absent = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if absent:
        return ("%s not installed (Debian packages chromium and chromium-driver: "
                "apt-get install -y chromium chromium-driver)" % " and ".join(absent))
    if importlib.util.find_spec("selenium") is None:
        return "the Python package selenium is not installed (tests/requirements.txt)"
    return None


class Browser:
    """One headless Chromium for many pages: ``with Browser() as b: b.open(path, 560, 420)``."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="nodeops-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument("--user-data-dir=%s" % self._profile)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        except BaseException:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_ERRORS})
        self.version = self.driver.capabilities.get("browserVersion", "?")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def viewport(self, width, height):
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": int(width), "height": int(height), "deviceScaleFactor": 1,
                                     "mobile": False})

    def open(self, path, width, height):
        """Load a local page at a viewport of width x height; return the errors it caused."""
        self.errors()  # what an earlier page left in the log is not this page's
        self.viewport(width, height)
        self.driver.get(Path(path).resolve().as_uri())
        self.js("return document.fonts ? document.fonts.ready.then(function () { return true; }) : true;")
        return self.errors()

    def errors(self):
        """Chromium's SEVERE log entries and the page's uncaught errors since the last call."""
        found = ["console %s: %s" % (e.get("source", "?"), e.get("message", ""))
                 for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]
        try:
            found += self.js("var e = window.__nodeopsErrors || []; window.__nodeopsErrors = []; return e;") or []
        except Exception as exc:  # a page that is not loaded yet has nothing to report
            if "about:blank" not in self.driver.current_url:
                found.append("could not read the page's errors: %s" % exc)
        return found

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def screenshot(self, target, full=False, max_height=MAX_FULL_HEIGHT):
        """A PNG of the viewport, or of the whole page (at the same width, at most max_height
        high) when full."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not full:
            target.write_bytes(self.driver.get_screenshot_as_png())
            return target
        width, height = self.js("return [window.innerWidth, window.innerHeight];")
        page = self.js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")
        self.viewport(width, min(max(page, height), max_height))
        try:
            target.write_bytes(self.driver.get_screenshot_as_png())
        finally:
            self.viewport(width, height)
        return target
