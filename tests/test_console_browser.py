"""The web console (/console) in a real browser: headless Chromium (Debian's,
driven by Playwright) signs in with an md_ key, a username and password, or
no credential where the server allows it; sessions created through the API
appear live and their events follow; approvals wait in the inbox and are
decided there; a reload after a server restart shows the same timeline.
Screenshots of each view at 1280 and 390 px wide are left in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import uuid

import pytest
import pytest_asyncio

from agent_helpers import codelab_session, sse, wait_for
from agent_runtime.clock import iso, utc_now
from agent_runtime.compute.records import MetricSample
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository
from browser_helpers import chromium, needs_chromium, screenshot_path, watch_problems
from conftest import TEST_API_KEY, http_client, make_settings, running
from identity_helpers import PASSWORD, bearer, issue_key, login, register, unique_email
from llm_fakes import Call, Reply
from ml_helpers import build_model, chat_examples, to_jsonl

pytestmark = needs_chromium

WIDTHS = (1280, 390)
# Long enough for a loaded CI machine; the console itself answers in ms.
SHOWN = 15_000


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory, fake):
    llm = {"openai_base_url": fake.base_url, "max_retries": 1, "timeout_seconds": 10}
    async with running(make_settings(tmp_path_factory.mktemp("data"), llm=llm)) as started:
        yield started


@pytest_asyncio.fixture(scope="module")
async def launched_chromium():
    # One launch for the module: each costs about a second of CPU.
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture
async def browser(launched_chromium):
    """The module's Chromium; the pages a test opened (each in a context of
    its own) are closed after it."""
    yield launched_chromium
    for context in launched_chromium.contexts:
        await context.close()


async def open_console(browser, runtime, problems, path=""):
    page = await browser.new_page(viewport={"width": WIDTHS[0], "height": 800})
    watch_problems(page, problems)
    await page.goto(f"{runtime.http_url}/console/{path}")
    return page


async def sign_in_with_key(page, key):
    await page.fill("#api-key", key)
    await page.click("#key-form button")
    await page.locator("#feed-state", has_text="live").wait_for(timeout=SHOWN)


async def sign_in_with_password(page, email):
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button")
    await page.locator("#feed-state", has_text="live").wait_for(timeout=SHOWN)


async def screenshots(page, view):
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            await page.screenshot(path=screenshot_path(f"console-{view}-{width}-{scheme}"))
    await page.emulate_media(color_scheme="light")
    await page.set_viewport_size({"width": WIDTHS[0], "height": 800})


async def shown_sequences(page):
    return [int(value) for value in await page.locator(".timeline .event").evaluate_all("cards => cards.map(card => card.dataset.sequence)")]


async def post_events(http, session_id, *events):
    for event in events:
        response = await http.post(f"/sessions/{session_id}/events", json=event)
        assert response.status_code == 200, response.text


async def test_a_session_created_through_the_api_appears_live_and_its_events_follow(runtime, http, browser):
    admin_key = (await issue_key(http, {}, name="console"))["key"]
    assert admin_key.startswith("md_")
    problems: list[str] = []
    page = await open_console(browser, runtime, problems)
    await sign_in_with_key(page, admin_key)

    session_id = f"console-{uuid.uuid4().hex[:8]}"
    created = await http.post("/sessions", json={"session_id": session_id, "session_name": "Fix the parser", "agent_name": "researcher"})
    assert created.status_code == 200, created.text
    link = page.locator(f"[data-session-id='{session_id}']")
    await link.wait_for(timeout=SHOWN)
    assert "Fix the parser" in await link.inner_text()
    # Search narrows the list to what matches.
    await http.post("/sessions", json={"session_id": f"other-{uuid.uuid4().hex[:8]}", "session_name": "Unrelated"})
    await page.locator(".session-link", has_text="Unrelated").wait_for(timeout=SHOWN)
    await page.fill("#session-search", "parser")
    assert await page.locator(".session-link").count() == 1
    await screenshots(page, "sessions")

    await link.click()
    await post_events(
        http,
        session_id,
        {"event_type": "session_start"},
        {"event_type": "pre_tool", "tool_name": "read_file", "tool_input": {"path": "parser.py"}},
    )
    await page.locator(".timeline .event").nth(1).wait_for(timeout=SHOWN)
    await post_events(
        http,
        session_id,
        {"event_type": "post_tool", "tool_name": "read_file", "tool_input": {"path": "parser.py"}, "tool_output": "def parse(): ..."},
        {"event_type": "post_tool", "tool_name": "apply_patch", "payload": {"diff": "--- a/parser.py\n+++ b/parser.py\n@@ -1 +1 @@\n-def parse(): ...\n+def parse(text): return text\n"}},
        {"event_type": "message", "role": "assistant", "content": [{"type": "text", "text": "The parser is fixed."}]},
    )
    await page.locator(".timeline .event", has_text="The parser is fixed.").wait_for(timeout=SHOWN)
    assert await shown_sequences(page) == [1, 2, 3, 4, 5]
    result = page.locator(".event[data-sequence='3']")
    assert "parser.py" in await result.inner_text() and "def parse(): ..." in await result.inner_text()
    assert await page.locator(".event[data-sequence='4'] .diff .added").inner_text() == "+def parse(text): return text\n"
    await screenshots(page, "timeline")
    assert problems == []


async def test_compute_shows_devices_the_live_task_queue_load_and_insights(runtime, http, browser):
    # Samples stored before the page opens: GPU at 77% (this machine's live
    # heartbeats say 0), so the chart can only draw them from the stored series.
    repository = SqliteMetricSampleRepository(runtime.database)
    for minutes_ago in (50, 49, 48):
        moment = utc_now() - dt.timedelta(minutes=minutes_ago)
        await repository.insert_sample(
            MetricSample(moment.timestamp(), iso(moment), 10.0, 40.0, 77.0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0)
        )
    problems: list[str] = []
    page = await open_console(browser, runtime, problems, "#/compute")
    await sign_in_with_key(page, TEST_API_KEY)
    devices = (await http.get("/devices")).json()["devices"]
    await page.locator(f".devices tr[data-device-id='{devices[0]['id']}']").wait_for(timeout=SHOWN)
    assert await page.locator(".devices tbody tr").count() == len(devices)
    task = await http.post("/tasks", json={"operation": "matrix_multiply", "parameters": {"size": 64, "iterations": 1}})
    assert task.status_code == 200, task.text
    done = page.locator(f".tasks tr[data-task-id='{task.json()['task_id']}'][data-status='completed']")
    await done.wait_for(timeout=SHOWN)
    assert "matrix_multiply" in await done.inner_text()
    # The stored GPU samples at 77% are on the GPU line: y = 160 - 0.77 * 156 - 2.
    await page.wait_for_function("/,37\\.9( |$)/.test(document.querySelector('.chart .line.second')?.getAttribute('points') || '')", timeout=SHOWN)
    # Heartbeats (every 0.5 s here) draw the load lines.
    await page.wait_for_function("(document.querySelector('.chart .line.first')?.getAttribute('points') || '').split(' ').length >= 3", timeout=SHOWN)
    await page.get_by_role("button", name="Analyse the last hour").click()
    # The text ends with who wrote it: the configured model or the deterministic analyser.
    await page.locator(".insights").filter(has_text=re.compile(r"\((deterministic|llm:[^)]+)\)$")).wait_for(timeout=SHOWN)
    await screenshots(page, "compute")
    assert problems == []


async def test_keyboard_alone_signs_in_and_moves_between_views_in_light_and_dark(runtime, http, browser):
    await http.post("/sessions", json={"session_id": f"keyboard-{uuid.uuid4().hex[:8]}", "session_name": "Reached by keyboard"})
    problems: list[str] = []
    page = await open_console(browser, runtime, problems)
    # The key field has the focus when the page opens.
    await page.keyboard.type(TEST_API_KEY)
    await page.keyboard.press("Enter")
    await page.locator("#feed-state", has_text="live").wait_for(timeout=SHOWN)

    async def tab_to(selector):
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    await tab_to(".session-link")
    await page.keyboard.press("Enter")
    await page.locator(".detail-head h1").wait_for(timeout=SHOWN)
    await tab_to("a[data-view=approvals]")
    await page.keyboard.press("Enter")
    await page.locator("h1", has_text="Approvals").wait_for(timeout=SHOWN)
    colours = {}
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        colours[scheme] = await page.evaluate("[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]")
    assert colours["light"] != colours["dark"]
    # Dark background, light text; light background, dark text.
    assert colours["dark"] == ["rgb(18, 20, 24)", "rgb(230, 232, 238)"]
    assert colours["light"] == ["rgb(247, 247, 248)", "rgb(27, 29, 34)"]
    assert problems == []


async def test_a_revoked_key_returns_to_the_sign_in_page(runtime, http, browser):
    issued = await issue_key(http, {}, name="revoked in use")
    problems: list[str] = []
    page = await open_console(browser, runtime, problems)
    await sign_in_with_key(page, issued["key"])
    assert (await http.delete(f"/api/auth/api-keys/{issued['id']}")).status_code in (200, 204)
    await page.reload()
    await page.get_by_role("alert").filter(has_text="no longer accepted").wait_for(timeout=SHOWN)
    assert await page.locator("#api-key").is_visible()
    assert await page.locator("#nav").is_hidden()
    # The refused /ws handshake and the 401 that tells why are all that went wrong.
    assert problems and all("401" in problem or "WebSocket connection to" in problem for problem in problems), problems


async def test_an_approval_waits_in_the_inbox_and_is_decided_in_the_console(runtime, http, fake, browser):
    email = unique_email("console")
    await register(http, email)
    user = http_client(runtime, api_key=None)
    user.headers.update(bearer(await login(http, email)))
    admins_session = f"admins-{uuid.uuid4().hex[:8]}"
    await http.post("/sessions", json={"session_id": admins_session})
    fake.add(
        Reply(tool_calls=[Call("write_file", {"path": "NOTES.md", "content": "approved as written\n"})]),
        Reply(tool_calls=[Call("write_file", {"path": "EDITED.md", "content": "as the model wrote it\n"})]),
        Reply(tool_calls=[Call("delete_file", {"path": "NOTES.md"})]),
        Reply(text="Wrote NOTES.md and EDITED.md."),
    )
    problems: list[str] = []
    async with user:
        page = await open_console(browser, runtime, problems, "#/approvals")
        await sign_in_with_password(page, email)
        # A second console of the same user sees a decision at once.
        other = await open_console(browser, runtime, problems, "#/approvals")
        await sign_in_with_password(other, email)
        await page.get_by_text("Nothing waits for you.").wait_for(timeout=SHOWN)

        session = await user.post("/api/sessions", json={"name": "Console approvals"})
        assert session.status_code == 200, session.text
        workspace = session.json()["working_directory"]
        task = await user.post(
            f"/api/sessions/{session.json()['id']}/tasks", json={"description": "Write notes", "model": "gpt-4o", "run_mode": "offline"}
        )
        assert task.status_code == 200, task.text

        await page.locator(".approval", has_text="write_file").wait_for(timeout=SHOWN)
        # Each card by its call: the next one may be for the same tool.
        first = page.locator(f".approval[data-call-id='{await page.locator('.approval').first.get_attribute('data-call-id')}']")
        assert "NOTES.md" in await first.locator("textarea").input_value()
        await other.locator(".approval", has_text="write_file").wait_for(timeout=SHOWN)
        first_in_other = other.locator(f".approval[data-call-id='{await first.get_attribute('data-call-id')}']")
        assert await page.locator("#approval-count").inner_text() == "1"
        await screenshots(page, "approvals")
        await first.locator("button.approve").click()
        await first.wait_for(state="detached", timeout=SHOWN)

        # The next one is edited: the arguments as JSON in the editor.
        edited = page.locator(".approval", has_text="EDITED.md")
        await edited.wait_for(timeout=SHOWN)
        await first_in_other.wait_for(state="detached", timeout=SHOWN)
        await edited.locator("textarea").fill(json.dumps({"path": "EDITED.md", "content": "as the person wrote it\n"}))
        await edited.locator("button.approve").click()
        await edited.wait_for(state="detached", timeout=SHOWN)

        rejected = page.locator(".approval", has_text="delete_file")
        await rejected.wait_for(timeout=SHOWN)
        await rejected.locator("input").fill("keep the notes")
        await rejected.locator("button.reject").click()
        await rejected.wait_for(state="detached", timeout=SHOWN)
        await other.get_by_text("Nothing waits for you.").wait_for(timeout=SHOWN)

        async def status():
            return (await user.get(f"/api/tasks/{task.json()['id']}")).json()["status"]

        assert await wait_for(status, lambda value: value in ("completed", "failed"), timeout=30) == "completed"
        assert (pathlib.Path(workspace) / "NOTES.md").read_text() == "approved as written\n"
        assert (pathlib.Path(workspace) / "EDITED.md").read_text() == "as the person wrote it\n"
        approvals = (await user.get(f"/api/tasks/{task.json()['id']}/approvals")).json()["approvals"]
        assert [(a["status"], a.get("feedback", "")) for a in approvals] == [("approved", ""), ("edited", ""), ("rejected", "keep the notes")]

        # The user sees only their own sessions; the timeline shows the decisions.
        await page.click("a[data-view=sessions]")
        await page.locator(f"[data-session-id='{session.json()['id']}']").click()
        await page.locator(".event.approval-rejected", has_text="keep the notes").wait_for(timeout=SHOWN)
        assert await page.locator(f"[data-session-id='{admins_session}']").count() == 0
        # The run's changes as a diff: the new files, line by line.
        await page.locator(f".run[data-task-id='{task.json()['id']}'] summary").click()
        diff = page.locator(".run .diff")
        await diff.first.wait_for(timeout=SHOWN)
        assert "+++ b/NOTES.md" in await diff.first.inner_text()
        added = [line.strip() for line in await diff.first.locator(".added").all_inner_texts()]
        assert "+approved as written" in added and "+as the person wrote it" in added
        await screenshots(page, "run-timeline")
    assert problems == []


async def test_a_plan_waits_in_the_inbox_and_approving_it_lets_the_run_go_on(runtime, http, fake, project, browser):
    session_id = await codelab_session(http, project, require_plan_approval=True)
    plan = {"steps": [{"description": "Add the widget"}, {"description": "Build it"}]}
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "coder", "reason": "code"}, id="r1")]),
        Reply(text="Here is my plan", tool_calls=[Call("update_plan", plan, id="p1")]),
        Reply(text="Planned and approved."),
    )
    problems: list[str] = []
    page = await open_console(browser, runtime, problems, "#/approvals")
    await sign_in_with_key(page, TEST_API_KEY)
    events = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "user_message", "content": "Build the widget"}})
    assert events[-1]["status"] == "waiting_plan_approval"
    card = page.locator(".approval[data-call-id='p1']")
    await card.wait_for(timeout=SHOWN)
    assert await card.locator(".type").inner_text() == "plan"
    assert json.loads(await card.locator("textarea").input_value()) == plan
    assert await card.locator("textarea").get_attribute("readonly") is not None
    await screenshots(page, "plan-approval")
    await card.locator("button.approve").click()
    await card.wait_for(state="detached", timeout=SHOWN)

    async def plan_approved():
        events = (await http.get(f"/sessions/{session_id}/events")).json()["events"]
        return [event["event_type"] for event in events if event["event_type"].startswith("approval.")]

    assert await wait_for(plan_approved, lambda kinds: "approval.approved" in kinds) == ["approval.requested", "approval.approved"]
    assert (await http.get(f"/sessions/{session_id}/pending-approvals")).json()["pending_approvals"] == []
    # The run went on with the plan: the model's last reply is in the timeline.
    await page.click("a[data-view=sessions]")
    await page.locator(f"[data-session-id='{session_id}']").click()
    await page.locator(".event.message", has_text="Planned and approved.").wait_for(timeout=SHOWN)
    assert problems == []


async def test_a_client_tool_call_waits_in_the_inbox_and_its_result_lets_the_run_go_on(runtime, http, fake, project, browser):
    tool = {"name": "run_flutter_tests", "description": "Runs the app's tests in the IDE", "parameters": {"type": "object", "properties": {}}}
    session_id = await codelab_session(http, project, client_tools=[tool])
    fake.add(
        Reply(tool_calls=[Call("switch_agent", {"agent_type": "debug", "reason": "tests"}, id="r1")]),
        Reply(text="Running the tests in your IDE", tool_calls=[Call("run_flutter_tests", {"target": "all"}, id="ct1")]),
        Reply(text="All 12 tests pass"),
    )
    events = await sse(http, "/agent/message/stream", {"session_id": session_id, "message": {"type": "user_message", "content": "Do the tests pass?"}})
    assert events[-1]["status"] == "waiting_tool_result"
    problems: list[str] = []
    # Opened after the run paused: the inbox comes from GET /api/inbox.
    page = await open_console(browser, runtime, problems, "#/approvals")
    await sign_in_with_key(page, TEST_API_KEY)
    card = page.locator(f".approval[data-session-id='{session_id}'][data-call-id='ct1']")
    await card.wait_for(timeout=SHOWN)
    assert await card.get_attribute("data-kind") == "client_tool"
    assert json.loads(await card.locator("pre").inner_text()) == {"target": "all"}
    await card.locator("textarea").fill('{"passed": 12, "failed": 0}')
    await screenshots(page, "client-tool")
    await card.get_by_role("button", name="Send result").click()
    await card.wait_for(state="detached", timeout=SHOWN)

    async def session_log():
        return json.dumps((await http.get(f"/sessions/{session_id}/events")).json()["events"])

    await wait_for(session_log, lambda log: "All 12 tests pass" in log)
    # The model read the JSON the console sent as the tool's result.
    tool_replies = [m["content"] for m in fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert json.loads(tool_replies[-1]) == {"passed": 12, "failed": 0}
    assert [item for item in (await http.get("/api/inbox")).json()["items"] if item["session_id"] == session_id] == []
    assert problems == []


async def test_a_reload_after_a_server_restart_shows_the_same_timeline(tmp_path, browser):
    settings = make_settings(tmp_path / "data", auth={"allow_anonymous_local": True})
    problems: list[str] = []
    session_id = "survives-restarts"
    async with running(settings) as first, http_client(first) as http:
        await http.post("/sessions", json={"session_id": session_id, "session_name": "Long run"})
        await post_events(http, session_id, *({"event_type": "message", "role": "assistant", "content": [{"type": "text", "text": f"step {n}"}]} for n in range(1, 6)))
        # Loopback and --allow-anonymous-local: it opens without signing in.
        page = await open_console(browser, first, problems, f"#/sessions/{session_id}")
        await page.locator(".event", has_text="step 5").wait_for(timeout=SHOWN)
        assert await page.locator("#who").inner_text() == "local (no credential)"
        assert problems == []
    async with running(settings) as second, http_client(second) as http:
        # The open page reconnects and resumes after the last sequence it had.
        await post_events(http, session_id, *({"event_type": "message", "role": "assistant", "content": [{"type": "text", "text": f"step {n}"}]} for n in range(6, 9)))
        await page.locator(".event", has_text="step 8").wait_for(timeout=SHOWN)
        assert await shown_sequences(page) == list(range(1, 9))
        await page.reload()
        await page.locator(".event", has_text="step 8").wait_for(timeout=SHOWN)
        assert await shown_sequences(page) == list(range(1, 9))
        texts = await page.locator(".timeline .event .message").all_inner_texts()
        assert texts == [f"step {n}" for n in range(1, 9)]
    # While the server went down and was down (and sockets still connecting
    # when the page reloaded) the browser could not connect, requests in
    # flight were cut off, and one that came while the new server started
    # was answered 503; that is all it said.
    cut_off = ("WebSocket connection to", "net::ERR_CONNECTION_", "request failed: ", "status of 503 (Service Unavailable)")
    assert [problem for problem in problems if not any(reason in problem for reason in cut_off)] == []


@pytest.mark.long
async def test_a_fine_tuning_job_draws_its_loss_curve_while_it_trains(tmp_path, browser):
    data_dir = tmp_path / "data"
    build_model(data_dir / "models" / "tiny")
    problems: list[str] = []
    async with running(make_settings(data_dir)) as started, http_client(started) as http:
        upload = await http.post(
            "/ml-api/files/", params={"filename": "train.jsonl", "purpose": "fine-tune"}, content=to_jsonl(chat_examples(32)),
            headers={"content-type": "application/jsonl"},
        )
        assert upload.status_code == 200, upload.text
        file_id = upload.json()["id"]
        hyperparameters = {"n_steps": 80, "batch_size": 4, "learning_rate": 0.001, "eval_every": 20, "checkpoint_every": 100, "max_seq_length": 64, "report_every": 2, "seed": 0}
        job = await http.post(
            "/ml-api/fine-tuning-jobs/",
            json={"model_id": "tiny", "training_file": file_id, "validation_file": file_id, "suffix": "console", "hyperparameters": hyperparameters},
        )
        assert job.status_code == 200, job.text
        job_id = job.json()["id"]
        page = await open_console(browser, started, problems, f"#/training/{job_id}")
        await sign_in_with_key(page, TEST_API_KEY)
        # Points arrive while the job is still running.
        await page.wait_for_function(
            "document.querySelector('.detail-head .status')?.textContent === 'running'"
            " && (document.querySelector('.chart .line.first')?.getAttribute('points') || '').split(' ').length >= 2",
            timeout=60_000,
        )
        await screenshots(page, "training")
        await page.locator(".detail-head .status", has_text="succeeded").wait_for(timeout=120_000)
        assert len((await page.locator(".chart .line.first").get_attribute("points")).split(" ")) == 80 // 2
        assert len((await page.locator(".chart .line.second").get_attribute("points")).split(" ")) >= 2
        # The registered model is listed; a second job is cancelled from the console, then resumed.
        slow = await http.post(
            "/ml-api/fine-tuning-jobs/",
            json={"model_id": "tiny", "training_file": file_id, "suffix": "slow", "hyperparameters": {**hyperparameters, "n_steps": 100000}},
        )
        await page.goto(f"{started.http_url}/console#/training")
        await page.locator(f"[data-model-id='tiny:console:{job_id}']").wait_for(timeout=SHOWN)
        await page.locator(f"[data-job-id='{slow.json()['id']}']").click()
        await page.get_by_role("button", name="Cancel job").click()
        await page.locator(".detail-head .status", has_text="cancelled").wait_for(timeout=60_000)
        await page.get_by_role("button", name="Resume job").click()
        await page.locator(".event", has_text="resumed: queued to continue").wait_for(timeout=SHOWN)
        await page.locator(".detail-head .status", has_text="running").wait_for(timeout=60_000)
        await http.post(f"/ml-api/fine-tuning-jobs/{slow.json()['id']}/cancel/")
        await page.locator(".detail-head .status", has_text="cancelled").wait_for(timeout=60_000)
    assert problems == []
