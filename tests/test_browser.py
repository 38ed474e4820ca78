"""The HTML report in a real browser: Debian's Chromium, headless, from disk.

Chromium is driven over the DevTools protocol on a pipe (no port is opened),
with every host name resolving to nothing, so no request can leave the
machine even if the page asked for one. For each page the test records every
request the browser made, then asks the page itself whether each formula is
laid out as MathML, each image decoded, and each in-page link has a target.

The committed ``reports/conformance.html`` must pass; so must a page rendered
here from a small document using every counterexample form. Known-bad pages
(an external image, a broken image, LaTeX left as source) must fail, which
shows the checks can fail. Screenshots go to ``test-artifacts/``.

Without Chromium the tests skip, saying so, except under CI, where ``.ci/run``
installs it and its absence is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from proofs.render import blocks as bl
from proofs.render import html as html_mod
from proofs.render.model import ReportView
from proofs.render.sample import sample_document

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "conformance.html"
ARTIFACTS = ROOT / "test-artifacts"

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    # Nothing resolves: a request for any host fails on this machine.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _chromium()
    if found is None:
        if _in_ci():
            pytest.fail("chromium is not installed; .ci/run must apt-get install it")
        pytest.skip(
            "chromium is not installed (Debian: apt-get install chromium); "
            "CI installs it and runs this test"
        )
    return found


class BrowserError(RuntimeError):
    pass


@dataclass
class Browser:
    """A headless Chromium spoken to over the DevTools pipe (fds 3 and 4)."""

    executable: str
    timeout: float = 60.0
    _proc: subprocess.Popen[bytes] | None = None
    _to_browser: int = -1
    _from_browser: int = -1
    _buffer: bytes = b""
    _next_id: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    _profile: str = ""

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="mstheory-chromium-")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()

        def wire() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self._proc = subprocess.Popen(
            [
                self.executable,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4, to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._to_browser, self._from_browser = to_child_w, from_child_r
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._proc and self._proc.poll() is None:
                with contextlib.suppress(BrowserError, OSError):
                    self.send("Browser.close")
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(self._profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {
            "id": self._next_id,
            "method": method,
            "params": params or {},
        }
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        for seen in self.events:
            if seen.get("method") == event and seen.get("sessionId") == session:
                return seen
        while True:
            message = self._read_message(deadline)
            self.events.append(message)
            if message.get("method") == event and message.get("sessionId") == session:
                return message


@dataclass(frozen=True)
class PageReport:
    requests: list[str]
    formulas: int
    formulas_as_mathml: int
    latex_left: list[str]
    images: int
    images_loaded: int
    broken_links: list[str]
    title: str


PROBE = r"""
(() => {
  const maths = [...document.querySelectorAll('math')];
  const shown = maths.filter(m => {
    const d = getComputedStyle(m).display;
    const r = m.getBoundingClientRect();
    return (typeof MathMLElement !== 'undefined') && m instanceof MathMLElement
      && (d === 'math' || d === 'block math' || d === 'inline math')
      && r.width > 0 && r.height > 0;
  });
  const text = document.body.innerText;
  const latex = (text.match(/\\(frac|mathrm|le|forall|sum|prod|text|left)\b|\$\$/g)
    || []).slice(0, 5);
  const imgs = [...document.images];
  const loaded = imgs.filter(i => i.complete && i.naturalWidth > 0);
  const broken = [...document.querySelectorAll('a[href^="#"]')]
    .map(a => a.getAttribute('href').slice(1))
    .filter(id => id && !document.getElementById(id));
  return JSON.stringify({formulas: maths.length, formulas_as_mathml: shown.length,
    latex_left: latex, images: imgs.length, images_loaded: loaded.length,
    broken_links: [...new Set(broken)].slice(0, 10), title: document.title});
})()
"""


def load(
    browser: Browser, page: Path, screenshot: str = "", anchor: str = ""
) -> PageReport:
    target = browser.send("Target.createTarget", {"url": "about:blank"})
    session = browser.send(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )["sessionId"]
    for domain in ("Page", "Network", "Runtime"):
        browser.send(f"{domain}.enable", session=session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    first_event = len(browser.events)
    url = page.resolve().as_uri() + (f"#{anchor}" if anchor else "")
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", session)
    probe = browser.send(
        "Runtime.evaluate",
        {"expression": PROBE, "returnByValue": True, "awaitPromise": True},
        session=session,
    )
    facts = json.loads(probe["result"]["value"])
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events[first_event:]
        if e.get("method") == "Network.requestWillBeSent"
        and e.get("sessionId") == session
    ]
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = browser.send(
            "Page.captureScreenshot", {"format": "png"}, session=session
        )
        (ARTIFACTS / screenshot).write_bytes(base64.b64decode(shot["data"]))
    browser.send("Target.closeTarget", {"targetId": target["targetId"]})
    return PageReport(requests=requests, **facts)


def problems(report: PageReport, page: Path) -> list[str]:
    """What is wrong with a loaded page; empty when nothing is."""
    found = []
    own = page.resolve().as_uri()
    left = [
        u
        for u in report.requests
        if u.split("#", 1)[0] != own and not u.startswith("data:")
    ]
    if left:
        found.append(f"requests left the file: {left[:5]}")
    if report.formulas == 0:
        found.append("no formula on the page")
    if report.formulas_as_mathml != report.formulas:
        found.append(
            f"{report.formulas - report.formulas_as_mathml} of {report.formulas} "
            "formulas are not laid out as MathML"
        )
    if report.latex_left:
        found.append(f"LaTeX source visible as text: {report.latex_left}")
    if report.images_loaded != report.images:
        found.append(
            f"{report.images - report.images_loaded} of {report.images} images "
            "did not load"
        )
    if report.broken_links:
        found.append(f"links to missing anchors: {report.broken_links}")
    return found


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as b:
        yield b


def _sample_page(tmp: Path) -> Path:
    doc = sample_document()
    images = {"figures/sample.svg": SAMPLE_SVG.encode()}
    page = tmp / "sample.html"
    page.write_text(html_mod.render(ReportView(doc), images), encoding="utf-8")
    return page


SAMPLE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" '
    'viewBox="0 0 40 20"><rect width="40" height="20" fill="#0072b2"/></svg>'
)


def test_committed_report_renders_offline(browser: Browser) -> None:
    if not REPORT.is_file():
        pytest.fail(f"{REPORT} is missing; generate it with 'mstheory report'")
    report = load(browser, REPORT, screenshot="conformance-report.png")
    assert problems(report, REPORT) == []
    assert report.images >= 1, "the report embeds no figure"
    assert report.title.startswith("Microservice theory")
    # A theorem with a figure, formulas and a counterexample, for a person to see.
    section = load(browser, REPORT, screenshot="conformance-t4-2.png", anchor="t4-2")
    assert problems(section, REPORT) == []


def test_every_counterexample_form_renders(browser: Browser, tmp_path: Path) -> None:
    page = _sample_page(tmp_path)
    report = load(browser, page, screenshot="counterexample-forms.png")
    assert problems(report, page) == []
    assert report.images == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            '<img src="http://127.0.0.1:9/x.png" alt="x">',
            "requests left the file",
        ),
        ('<img src="data:image/png;base64,AAAA" alt="x">', "images did not load"),
        (r"<p>$$\frac{a}{b}$$</p>", "LaTeX source visible"),
        ('<a href="#nowhere">x</a>', "links to missing anchors"),
    ],
    ids=["external-image", "broken-image", "latex-source", "dangling-link"],
)
def test_checks_catch_a_bad_page(
    browser: Browser, tmp_path: Path, case: str, expected: str
) -> None:
    good = _sample_page(tmp_path).read_text(encoding="utf-8")
    page = tmp_path / "bad.html"
    page.write_text(good.replace("<main>", "<main>" + case, 1), encoding="utf-8")
    found = problems(load(browser, page), page)
    assert any(expected in p for p in found), found


def test_a_page_without_mathml_is_caught(browser: Browser, tmp_path: Path) -> None:
    good = _sample_page(tmp_path).read_text(encoding="utf-8")
    page = tmp_path / "no-mathml.html"
    # The same markup in the HTML namespace is not mathematics to a browser.
    page.write_text(
        good.replace("<math ", "<span data-was-math ").replace("</math>", "</span>"),
        encoding="utf-8",
    )
    found = problems(load(browser, page), page)
    assert any("no formula" in p or "not laid out" in p for p in found), found


def test_blocks_module_is_what_the_sample_exercises() -> None:
    kinds = {
        type(b).__name__
        for o in sample_document()["obligations"]
        for value in (o["counterexample"], o["evidence"])
        for b in bl.present(value)
    }
    assert {"Table", "Steps", "Timeline", "Listing", "Paragraph"} <= kinds
