"""A real headless Chromium for the console's browser tests (``test_browser.py``), driven with
Selenium through Debian's ``chromedriver``, and the helpers those tests share.

The browser is Debian's ``chromium`` with its ``chromium-driver`` (or the programs whose paths
``CONSOLE_CHROMIUM`` and ``CONSOLE_CHROMEDRIVER`` give); nothing is downloaded (the driver's
path is given, so Selenium Manager is not run). Without them the tests are skipped and say which
packages to install, unless ``CONSOLE_BROWSER_REQUIRED=1`` (set by CI), when a missing browser
fails them instead.

Every page the browser opens is watched: a script that runs before the page's own sets
``window.__sseOpen`` once the live board's event stream is open, and the browser's log
(``goog:loggingPrefs``) holds each script error, Content-Security-Policy refusal and failed
load, which ``page_problems`` reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.webdriver import ChromiumDriver as Browser
from selenium.webdriver.support.wait import WebDriverWait

REQUIRED = "CONSOLE_BROWSER_REQUIRED"
SCREENSHOTS = "CONSOLE_SCREENSHOTS"
PACKAGES = "chromium chromium-driver"
# Another Chromium-based browser and its driver instead (a CI image's Google Chrome): their paths
BROWSER_PATH = "CONSOLE_CHROMIUM"
DRIVER_PATH = "CONSOLE_CHROMEDRIVER"
BROWSERS = ("/usr/bin/chromium", "chromium", "chromium-browser")
DRIVERS = ("/usr/bin/chromedriver", "chromedriver")

WIDTH, HEIGHT = 1366, 900
ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},{HEIGHT}",
    "--lang=en-GB",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--metrics-recording-only",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)

VENDOR = Path(__file__).parent / "vendor"
AXE = VENDOR / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

# Run before each page's own scripts (the DevTools protocol's, so no CSP applies to it).
WATCH = """
window.__sseOpen = false;
document.addEventListener("htmx:sseOpen", () => { window.__sseOpen = true; });
document.addEventListener("htmx:sseError", () => { window.__sseOpen = false; });
"""

T = TypeVar("T")


def _found(variable: str, names: tuple[str, ...]) -> str | None:
    """The program ``variable`` names (a path), else the first of ``names`` on the PATH."""
    given = os.environ.get(variable, "").strip()
    for name in (given,) if given else names:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


def required() -> bool:
    return os.environ.get(REQUIRED, "").strip().lower() in ("1", "true", "yes", "on")


def browser_paths() -> tuple[str, str]:
    """Chromium's and its driver's paths; a test without them is skipped (or fails when the
    browser is required)."""
    browser, driver = _found(BROWSER_PATH, BROWSERS), _found(DRIVER_PATH, DRIVERS)
    if browser is not None and driver is not None:
        return browser, driver
    missing = " and ".join(
        name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None
    )
    reason = (
        f"the console's browser tests need Debian's headless Chromium and its driver; "
        f"{missing} not found: apt-get install {PACKAGES} (or name another Chromium and its "
        f"driver in {BROWSER_PATH} and {DRIVER_PATH})"
    )
    if required():
        pytest.fail(f"{REQUIRED} is set but {reason}", pytrace=False)
    pytest.skip(reason)


def start_chromium(browser: str, driver: str, log: Path) -> Browser:
    """A headless Chromium of ``WIDTH`` × ``HEIGHT``, its driver's log in ``log``."""
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver, log_output=str(log))
    chrome = webdriver.Chrome(options=options, service=service)
    try:
        chrome.set_page_load_timeout(30)
        chrome.set_script_timeout(30)
        chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    except BaseException:
        chrome.quit()
        raise
    return chrome


@contextmanager
def chromium(directory: Path) -> Iterator[Browser]:
    """A headless Chromium for the block; it and its driver are ended on leaving."""
    browser, driver = browser_paths()
    chrome = start_chromium(browser, driver, directory / "chromedriver.log")
    try:
        yield chrome
    finally:
        chrome.quit()


def fresh(chrome: Browser) -> None:
    """Forget the cookies of every site and what the log holds, on a blank page."""
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chrome.get_log("browser")


def wait_until(
    chrome: Browser, condition: Callable[[Browser], T], what: str, timeout: float = 10.0
) -> T:
    """``condition``'s first truthy value within ``timeout`` seconds, else the test fails saying
    ``what`` was awaited and where the browser is."""
    waiting = WebDriverWait(
        chrome,
        timeout,
        poll_frequency=0.05,
        # an element htmx replaced between finding it and reading it: look again
        ignored_exceptions=(StaleElementReferenceException,),
    )
    try:
        return waiting.until(condition)
    except TimeoutException:
        problems = page_problems(chrome)
        logged = "".join(f"\n  {problem}" for problem in problems)
        raise AssertionError(
            f"not within {timeout} s: {what} (at {chrome.current_url}, title {chrome.title!r})"
            + (f"; the browser logged:{logged}" if logged else "")
        ) from None


def page_problems(chrome: Browser, *, expected: tuple[str, ...] = ()) -> list[str]:
    """What went wrong in the pages since the last look: the browser log's errors (script
    errors, Content-Security-Policy refusals, failed loads), but the favicon the browser asks
    for by itself and messages containing one of ``expected``."""
    problems = []
    for entry in chrome.get_log("browser"):
        message = str(entry.get("message", ""))
        if entry.get("level") != "SEVERE" or "/favicon.ico" in message:
            continue
        if any(text in message for text in expected):
            continue
        problems.append(f"{entry.get('source')}: {message}")
    return problems


def assert_no_page_problems(chrome: Browser, *, expected: tuple[str, ...] = ()) -> None:
    """The pages opened since the last look loaded and ran without an error."""
    problems = page_problems(chrome, expected=expected)
    assert not problems, "errors in the browser:\n" + "\n".join(problems)


# -- accessibility ------------------------------------------------------------------------

_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then((results) => done({violations: results.violations, version: axe.version}))
  .catch((error) => done({error: String(error)}));
"""


def axe_source() -> str:
    """The vendored axe-core, checked against the digest its README records."""
    data = AXE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == AXE_SHA256, f"{AXE} is not the vendored axe-core (sha256 {digest})"
    return data.decode("utf-8")


def run_axe(chrome: Browser) -> list[dict[str, Any]]:
    """axe-core's violations on the page open now (axe injected into it)."""
    chrome.execute_script(axe_source())
    found = chrome.execute_async_script(_RUN_AXE)
    assert isinstance(found, dict) and "violations" in found, f"axe did not run: {found}"
    violations: list[dict[str, Any]] = found["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as people read them: rule, impact, help, and each element."""
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation.get('help')} "
            f"[{violation.get('helpUrl')}]"
        )
        for node in violation.get("nodes", []):
            lines.append(f"    {node.get('target')}: {node.get('html')}")
            summary = str(node.get("failureSummary") or "").replace("\n", " / ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


# -- screenshots ----------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height (from its header chunk)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def page_size(chrome: Browser) -> tuple[int, int]:
    """The whole page's width (the viewport's) and height, in CSS pixels."""
    size = chrome.execute_script(
        "return [document.documentElement.clientWidth,"
        " Math.ceil(document.documentElement.scrollHeight)]"
    )
    return int(size[0]), int(size[1])


def screenshot(chrome: Browser, name: str, directory: Path) -> Path:
    """A PNG of the whole page open now, as wide as the window, in ``directory`` (and under
    docs/images with ``CONSOLE_SCREENSHOTS=1``), checked to be a picture of the page's size."""
    chrome.execute_script("window.scrollTo(0, 0)")
    width, height = page_size(chrome)
    assert width == WIDTH, f"{name}: the page is {width} pixels wide, not the window's {WIDTH}"
    shot = chrome.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    data = base64.b64decode(shot["data"])
    assert len(data) > 10_000, f"{name}: a screenshot of {len(data)} bytes"
    assert png_size(data) == (width, height), f"{name}: {png_size(data)}, not {width}x{height}"
    path = directory / name
    path.write_bytes(data)
    if os.environ.get(SCREENSHOTS, "").strip() == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOCS_IMAGES / name).write_bytes(data)
    return path


# -- the API --------------------------------------------------------------------------------

MERGE_PATCH = "application/merge-patch+json"


class Api:
    """The few API calls the browser tests make, each checked for the status it must answer;
    ``token``: the bearer token sent (``None``: none, a server without authentication)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False  # straight to 127.0.0.1, whatever proxy is set
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    def _ok(self, response: requests.Response, status: int) -> Any:
        assert response.status_code == status, (
            f"{response.request.method} {response.url}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def create_ticket(self, **fields: Any) -> dict[str, Any]:
        body = {"@type": "TroubleTicket", "ticketType": "incident", **fields}
        found: dict[str, Any] = self._ok(
            self.session.post(f"{self.base}/troubleTicket", json=body, timeout=10), 201
        )
        return found

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._ok(
            self.session.get(f"{self.base}/troubleTicket/{ticket_id}", timeout=10), 200
        )
        return found

    def patch_ticket(self, ticket_id: str, **changes: Any) -> dict[str, Any]:
        response = self.session.patch(
            f"{self.base}/troubleTicket/{ticket_id}",
            data=json.dumps({"@type": "TroubleTicket", **changes}),
            headers={"Content-Type": MERGE_PATCH},
            timeout=10,
        )
        found: dict[str, Any] = self._ok(response, 200)
        return found

    def plan_activity(self, ticket_id: str, **fields: Any) -> dict[str, Any]:
        body = {"@type": "RecoveryActivity", **fields}
        url = f"{self.base}/troubleTicket/{ticket_id}/recoveryActivity"
        found: dict[str, Any] = self._ok(self.session.post(url, json=body, timeout=10), 201)
        return found

    def subscribe(self, callback: str) -> str:
        body = {"@type": "Hub", "callback": callback}
        hub = self._ok(self.session.post(f"{self.base}/hub", json=body, timeout=10), 201)
        return str(hub["id"])

    def unsubscribe(self, hub_id: str) -> None:
        self._ok(self.session.delete(f"{self.base}/hub/{hub_id}", timeout=10), 204)

    def wait_for_ticket(
        self,
        ticket_id: str,
        condition: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        """The ticket once ``condition`` holds for it (polled), else the test fails."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.ticket(ticket_id)
            if condition(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"ticket {ticket_id}: not within {timeout} s: {what}")
            time.sleep(0.1)


def party(party_id: str, role: str, name: str | None = None) -> dict[str, Any]:
    """A related party of a ticket: an organisation in ``role``."""
    ref: dict[str, Any] = {"@type": "PartyRef", "@referredType": "Organization", "id": party_id}
    if name is not None:
        ref["name"] = name
    return {"@type": "RelatedPartyRefOrPartyRoleRef", "role": role, "partyOrPartyRole": ref}


def urgency(value: str) -> list[dict[str, Any]]:
    """The characteristic that gives a ticket its urgency (the priority matrix's column)."""
    return [{"@type": "StringCharacteristic", "name": "urgency", "value": value}]


def shape(value: Any) -> Any:
    """The structure of a JSON value: its keys kept, lists by their items' shapes, scalars by
    type."""
    if isinstance(value, Mapping):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__
