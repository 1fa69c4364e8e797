"""Headless Chromium for the browser tests (/docs, /console): Debian's
chromium driven by Playwright from PyPI (never `playwright install`), with
every console error, page error and failed request collected."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
from typing import AsyncIterator

import pytest

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is a dev dependency (scripts/setup-venv dev)")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
# Screenshots for a person to look at; gitignored.
ARTIFACTS = pathlib.Path(__file__).resolve().parents[1] / "test-artifacts"

needs_chromium = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)")


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def watch_problems(page, problems: list[str]) -> None:
    """Appends what went wrong on `page` to `problems`."""
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
