"""Compute tasks belong to the user who submitted them: another user's task
answers 404 on get and cancel, is missing from lists, and never shows on
their live feeds (`/ws` `task_update`, gRPC WatchTasks); administrator
credentials see all (identity/ownership.py)."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import pytest_asyncio
import websockets

from agentruntime.v1 import compute_pb2, compute_pb2_grpc
from conftest import TEST_API_KEY, http_client, running
from identity_helpers import bearer, identity_settings, new_user

pytestmark = pytest.mark.slow

ADMIN = {"x-api-key": TEST_API_KEY}
# Long enough to be cancelled while it runs or waits.
LONG = {"operation": "matrix_multiply", "parameters": {"size": 512, "iterations": 1000}, "device_preference": "cpu_0", "wait": False}
QUICK = {"operation": "vector_operations", "parameters": {"size": 100}}


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    async with running(identity_settings(tmp_path_factory.mktemp("compute-owners"))) as started:
        await started.compute.probe_finished()
        yield started


@pytest_asyncio.fixture(scope="module")
async def http(runtime):
    async with http_client(runtime, None) as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def users(http):
    _, alice = await new_user(http, "alice")
    _, bob = await new_user(http, "bob")
    return bearer(alice), bearer(bob)


async def submit(http, headers, body) -> str:
    response = await http.post("/tasks", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


async def test_others_compute_tasks_answer_404_and_are_not_listed(http, users):
    alice, bob = users
    task_id = await submit(http, alice, LONG)
    try:
        for method, path in (("GET", f"/tasks/{task_id}"), ("POST", f"/tasks/{task_id}/cancel")):
            response = await http.request(method, path, json={} if method == "POST" else None, headers=bob)
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "TASK_NOT_FOUND"
        assert (await http.get(f"/tasks/{task_id}", headers=alice)).json()["status"] in ("queued", "running")
        listed = (await http.get("/tasks/enhanced", params={"limit": 1000}, headers=bob)).json()
        assert task_id not in [t["task_id"] for t in listed["tasks"]]
        mine = (await http.get("/tasks/enhanced", params={"limit": 1000}, headers=alice)).json()
        assert [t["task_id"] for t in mine["tasks"]] == [task_id] and mine["total_count"] == 1
        everything = (await http.get("/tasks/enhanced", params={"limit": 1000}, headers=ADMIN)).json()
        assert task_id in [t["task_id"] for t in everything["tasks"]]
        assert (await http.get(f"/tasks/{task_id}", headers=ADMIN)).status_code == 200
    finally:
        cancelled = await http.post(f"/tasks/{task_id}/cancel", json={}, headers=alice)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text


async def test_an_administrator_cancels_any_task(http, users):
    alice, _ = users
    task_id = await submit(http, alice, LONG)
    cancelled = await http.post(f"/tasks/{task_id}/cancel", json={}, headers=ADMIN)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    # An administrator's task has no owner: users do not see it.
    admin_task = await submit(http, ADMIN, QUICK)
    assert (await http.get(f"/tasks/{admin_task}", headers=alice)).status_code == 404


async def test_grpc_get_cancel_and_watch_only_own_tasks(runtime, http, users):
    alice, bob = users
    bob_metadata = (("authorization", bob["authorization"]),)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = compute_pb2_grpc.ComputeServiceStub(channel)
        watch = stub.WatchTasks(compute_pb2.WatchTasksRequest(), metadata=bob_metadata)
        assert (await asyncio.wait_for(watch.read(), 5)).status == "watching"
        alices = await submit(http, alice, QUICK)
        for call in (
            stub.GetTask(compute_pb2.GetTaskRequest(task_id=alices), metadata=bob_metadata),
            stub.CancelTask(compute_pb2.CancelTaskRequest(task_id=alices), metadata=bob_metadata),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        # Bob's own task is the first update his watch sees: none of Alice's.
        bobs = await submit(http, bob, QUICK)
        update = await asyncio.wait_for(watch.read(), 5)
        assert update.task_id == bobs, update
        watch.cancel()


async def test_ws_task_updates_only_for_own_tasks(runtime, http, users):
    alice, bob = users
    url = runtime.http_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(url, additional_headers=bob) as socket:
        while json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] != "init":
            pass
        alices = await submit(http, alice, QUICK)
        bobs = await submit(http, bob, QUICK)
        seen = []
        while bobs not in seen:
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            if message["type"] == "task_update":
                seen.append(message["data"]["task_id"])
        assert alices not in seen
