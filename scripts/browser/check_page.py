"""Opens report pages in headless Chromium from disk and checks what a reader
relies on:

  * the console stays free of errors (console.error, uncaught exceptions,
    CSP and other browser errors logged);
  * the page makes no network request: any request but the page's own file
    fails the check;
  * a screenshot is drawn (enough distinct colours, not one background), on
    a desktop and on a phone viewport, where nothing may widen the page
    beyond the screen;
  * it prints: print media hides the navigation, and Chromium makes a PDF.

    check_page.py --chromium /usr/bin/chromium --out DIR PAGE.html [...]
    check_page.py --chromium /usr/bin/chromium --out DIR --selftest
    check_page.py --chromium /usr/bin/chromium --out DIR --mermaid MERMAID.JS FILE.mmd [...]

--selftest proves the checks fail: a page that logs an error and fetches an
image, and a blank page, must both be refused. --mermaid draws each file
with Mermaid itself (the library GitHub renders diagrams with).
Screenshots and PDFs are left in DIR. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cdp import Browser, CdpError
from png import colour_stats

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    "phone": {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
}
# A drawn page shows text, tables and the picture, antialiased: hundreds of
# colours. A blank or unstyled one has a handful.
MIN_COLOURS = 64
MIN_INK = 0.02


class Session:
    """One tab, with everything it logged and fetched."""

    def __init__(self, browser: Browser):
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.id = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.id)

    def open(self, url: str, viewport: dict) -> None:
        self.send("Emulation.setDeviceMetricsOverride", viewport)
        self.send("Page.navigate", {"url": url})
        self.browser.wait_for("Page.loadEventFired", self.id, self.events)
        # Let late console messages and requests arrive before judging.
        time.sleep(0.3)
        self.browser.drain(self.events)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def mine(self) -> list[dict]:
        return [e for e in self.events if e.get("sessionId") == self.id]


def console_errors(events: list[dict]) -> list[str]:
    errors = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            errors.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return errors


def requests(events: list[dict], page_url: str) -> list[str]:
    return [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["url"] != page_url
    ]


def screenshot(session: Session, out: Path) -> list[str]:
    """Saves a screenshot and judges a quarter-size one by its colours."""
    full = base64.b64decode(session.send("Page.captureScreenshot", {"format": "png"})["data"])
    out.write_bytes(full)
    metrics = session.send("Page.getLayoutMetrics")["cssVisualViewport"]
    clip = {"x": 0, "y": 0, "width": metrics["clientWidth"], "height": metrics["clientHeight"], "scale": 0.25}
    small = base64.b64decode(session.send("Page.captureScreenshot", {"format": "png", "clip": clip})["data"])
    colours, ink = colour_stats(small)
    problems = []
    if colours < MIN_COLOURS or ink < MIN_INK:
        problems.append(f"screenshot {out.name} looks blank: {colours} colours, {ink:.1%} off the background")
    else:
        print(f"  {out.name}: {colours} colours, {ink:.0%} off the background")
    return problems


def check_page(browser: Browser, page: Path, out: Path) -> list[str]:
    url = page.resolve().as_uri()
    problems: list[str] = []
    for name, viewport in VIEWPORTS.items():
        session = Session(browser)
        session.open(url, viewport)
        problems += screenshot(session, out / f"{page.stem}-{name}.png")
        if not session.evaluate("document.querySelector('h1') !== null && document.querySelector('svg') !== null"):
            problems.append(f"{name}: no heading or no picture")
        overflow = session.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{name}: the page is {overflow}px wider than the screen")
        if name == "desktop":
            session.send("Emulation.setEmulatedMedia", {"media": "print"})
            if session.evaluate("getComputedStyle(document.querySelector('nav')).display") != "none":
                problems.append("print: the navigation is still shown")
            pdf = base64.b64decode(session.send("Page.printToPDF", {"printBackground": True})["data"])
            (out / f"{page.stem}.pdf").write_bytes(pdf)
            pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
            if not pdf.startswith(b"%PDF") or pages < 1:
                problems.append("print: Chromium made no PDF")
            else:
                print(f"  {page.stem}.pdf: {pages} pages")
        browser.drain(session.events)
        events = session.mine()
        problems += [f"{name}: {e}" for e in console_errors(events)]
        problems += [f"{name}: network request to {u}" for u in requests(events, url)]
    return [f"{page.name}: {p}" for p in problems]


def check_mermaid(browser: Browser, library: Path, diagrams: list[Path], work: Path) -> list[str]:
    """Draws each diagram with Mermaid in the browser; a broken diagram must
    be refused first, or the check proves nothing."""
    host = work / "mermaid-check.html"
    host.write_text(
        f'<!DOCTYPE html><meta charset="utf-8"><script src="{library.resolve().as_uri()}"></script>'
        "<script>mermaid.initialize({startOnLoad: false});</script>"
    )
    session = Session(browser)
    session.open(host.as_uri(), VIEWPORTS["desktop"])

    def draw(name: str, text: str) -> str:
        return session.evaluate(
            f"mermaid.render({json.dumps(name)}, {json.dumps(text)})"
            ".then(r => r.svg.length > 1000 ? 'ok' : 'drew nothing').catch(e => String(e.message || e))"
        )

    problems = []
    if draw("broken", "flowchart TB\n  a[\"unclosed --> b\n") == "ok":
        problems.append("Mermaid drew a broken diagram: the check proves nothing")
    for i, diagram in enumerate(diagrams):
        verdict = draw(f"diagram{i}", diagram.read_text())
        if verdict != "ok":
            problems.append(f"{diagram}: Mermaid cannot draw it: {verdict}")
        else:
            print(f"  {diagram.name}: Mermaid draws it")
    problems += [f"mermaid page: {e}" for e in console_errors(session.mine())]
    return problems


def selftest(browser: Browser, work: Path) -> list[str]:
    """The checks must refuse a noisy, fetching page and a blank one."""
    noisy = work / "noisy.html"
    noisy.write_text(
        '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"></head><body>'
        "<h1>noisy</h1><svg></svg><img src=\"http://127.0.0.1:9/pixel.png\">"
        "<script>console.error('selftest error')</script><nav></nav></body></html>"
    )
    blank = work / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body><nav></nav></body></html>")
    found = check_page(browser, noisy, work)
    missed = []
    if not any("console.error: selftest error" in p for p in found):
        missed.append("a console.error was not caught")
    if not any("network request to http://127.0.0.1:9/pixel.png" in p for p in found):
        missed.append("a network request was not caught")
    if not any("looks blank" in p for p in check_page(browser, blank, work)):
        missed.append("a blank page was not caught")
    if not missed:
        print("  selftest: an error, a request and a blank page are each refused")
    return [f"selftest: {m}" for m in missed]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--selftest", action="store_true")
    parser.add_argument("--mermaid", type=Path)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="report-browser-"))
    browser = Browser(args.chromium, profile)
    try:
        if args.selftest:
            problems = selftest(browser, args.out)
        elif args.mermaid:
            problems = check_mermaid(browser, args.mermaid, args.files, args.out)
        else:
            problems = []
            for page in args.files:
                print(f"{page}:")
                problems += check_page(browser, page, args.out)
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
