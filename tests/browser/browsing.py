"""Browser pages signed in to the studio (Debian's chromium, driven by Playwright), and where screenshots go."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

from tests.hosting import RunningHost

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "studio"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}


class Studio:
    """Browser pages signed in to the studio, each checked for console errors (a CSP violation, a script error)."""

    def __init__(self, browser: Browser, host: RunningHost) -> None:
        self.browser, self.host = browser, host
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def page(self, viewport: dict[str, int] = WIDE, signed_in: bool = True) -> Page:
        context = self.browser.new_context(viewport=viewport, base_url=self.host.base_url)  # type: ignore[arg-type]
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("response", self._response)
        if signed_in:
            page.goto("/api/studio")
            page.get_by_label("Admin key").fill(self.host.config.admin_key)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/api/studio")
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # A page answered 4xx (a wrong key, a form refused) is logged as a failed load: the tests expect those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)  # a script error, a Content-Security-Policy violation

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} for {response.url}")  # the page's CSS, script or a live part

    def screenshot(self, page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()
