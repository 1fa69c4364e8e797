"""/docs in a real browser: headless Chromium (Debian's, driven by
Playwright) renders every operation of the served OpenAPI document, a try-it
call with a key succeeds, and nothing is logged to the console as an error.
A screenshot is left in test-artifacts/ for a person to look at."""

from __future__ import annotations

from browser_helpers import chromium, needs_chromium, screenshot_path, watch_problems
from conftest import TEST_API_KEY

pytestmark = needs_chromium


async def test_swagger_ui_renders_every_operation_and_tries_one_with_a_key(runtime, http):
    await http.post("/sessions", json={"session_id": "seen-in-the-browser"})
    document = (await http.get("/openapi.json")).json()
    operations = sum(1 for item in document["paths"].values() for _ in item)
    problems: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        watch_problems(page, problems)
        await page.goto(runtime.http_url + "/docs")
        await page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {operations}", timeout=30_000)
        assert await page.locator(".opblock").count() == operations
        title = await page.locator(".info .title").inner_text()
        assert title.startswith("Agent Runtime") and document["info"]["version"] in title
        # The streams the operations cannot show are explained on the page.
        description = await page.locator(".info .description").inner_text()
        assert "Server-sent events" in description and "ws://HOST/ws" in description
        # The key goes in through Swagger UI's Authorize dialog.
        await page.locator(".auth-wrapper .authorize").click()
        await page.locator(".modal-ux input").first.fill(TEST_API_KEY)
        await page.locator(".modal-ux .auth-btn-wrapper .authorize").first.click()
        await page.locator(".modal-ux .btn-done").first.click()

        listing = page.locator("#operations-SessionService-SessionService_ListSessions")
        await listing.locator(".opblock-summary").click()
        await listing.locator(".try-out__btn").click()
        await listing.locator(".execute").click()
        status = listing.locator(".live-responses-table .response .response-col_status").first
        await status.wait_for(timeout=15_000)
        assert (await status.inner_text()).strip() == "200"
        assert "seen-in-the-browser" in await listing.locator(".live-responses-table .microlight").first.inner_text()
        await page.screenshot(path=screenshot_path("docs"), full_page=False)
    assert problems == []
