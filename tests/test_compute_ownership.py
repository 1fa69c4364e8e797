"""Compute tasks belong to the user who submitted them: another user's task
is NOT_FOUND (TASK_NOT_FOUND) on get and cancel, is missing from lists, and
never shows on their WatchTasks feed; administrator credentials see all
(identity/ownership.py). On the bare gRPC server: the REST answer of
TASK_NOT_FOUND is test_compute_rest.py's, and so is the `/ws` feed's
share of this rule (test_ws_task_updates_only_for_own_tasks)."""

from __future__ import annotations

import asyncio

import grpc
import pytest_asyncio

from agentruntime.v1 import compute_pb2, compute_pb2_grpc
from conftest import TEST_API_KEY, running_without_envoy
from grpc_errors import refusal
from identity_helpers import grpc_new_user, identity_settings

ADMIN = (("x-api-key", TEST_API_KEY),)
# Long enough to be cancelled while it runs or waits.
LONG = {"operation": "matrix_multiply", "parameters": {"size": 512, "iterations": 1000}, "device_preference": "cpu_0", "wait": False}
QUICK = {"operation": "vector_operations", "parameters": {"size": 100}}
NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "TASK_NOT_FOUND")


@pytest_asyncio.fixture(scope="module")
async def channel(tmp_path_factory):
    async with running_without_envoy(identity_settings(tmp_path_factory.mktemp("compute-owners"))) as (started, opened):
        await started.compute.probe_finished()
        yield opened


@pytest_asyncio.fixture(scope="module")
async def stub(channel):
    return compute_pb2_grpc.ComputeServiceStub(channel)


@pytest_asyncio.fixture(scope="module")
async def users(channel):
    """Alice's and Bob's metadata (JWTs)."""
    _, alice = await grpc_new_user(channel, "alice")
    _, bob = await grpc_new_user(channel, "bob")
    return (("authorization", f"Bearer {alice}"),), (("authorization", f"Bearer {bob}"),)


async def submit(stub, metadata, body) -> str:
    request = compute_pb2.CreateTaskRequest(**{key: value for key, value in body.items() if key != "parameters"})
    request.parameters.update(body["parameters"])
    return (await stub.CreateTask(request, metadata=metadata)).task_id


async def test_others_compute_tasks_are_not_found_and_not_listed(stub, users):
    alice, bob = users
    task_id = await submit(stub, alice, LONG)
    try:
        assert await refusal(stub.GetTask(compute_pb2.GetTaskRequest(task_id=task_id), metadata=bob)) == NOT_FOUND
        assert await refusal(stub.CancelTask(compute_pb2.CancelTaskRequest(task_id=task_id), metadata=bob)) == NOT_FOUND
        assert (await stub.GetTask(compute_pb2.GetTaskRequest(task_id=task_id), metadata=alice)).status in ("queued", "running")
        listed = await stub.ListTasksEnhanced(compute_pb2.ListTasksEnhancedRequest(limit=1000), metadata=bob)
        assert task_id not in [t.task_id for t in listed.tasks]
        mine = await stub.ListTasksEnhanced(compute_pb2.ListTasksEnhancedRequest(limit=1000), metadata=alice)
        assert [t.task_id for t in mine.tasks] == [task_id] and mine.total_count == 1
        everything = await stub.ListTasksEnhanced(compute_pb2.ListTasksEnhancedRequest(limit=1000), metadata=ADMIN)
        assert task_id in [t.task_id for t in everything.tasks]
        assert (await stub.GetTask(compute_pb2.GetTaskRequest(task_id=task_id), metadata=ADMIN)).task_id == task_id
    finally:
        cancelled = await stub.CancelTask(compute_pb2.CancelTaskRequest(task_id=task_id), metadata=alice)
    assert cancelled.status == "cancelled", cancelled


async def test_an_administrator_cancels_any_task(stub, users):
    alice, _ = users
    task_id = await submit(stub, alice, LONG)
    cancelled = await stub.CancelTask(compute_pb2.CancelTaskRequest(task_id=task_id), metadata=ADMIN)
    assert cancelled.status == "cancelled", cancelled
    # An administrator's task has no owner: users do not see it.
    admin_task = await submit(stub, ADMIN, QUICK)
    assert await refusal(stub.GetTask(compute_pb2.GetTaskRequest(task_id=admin_task), metadata=alice)) == NOT_FOUND


async def test_watch_shows_only_own_tasks(stub, users):
    alice, bob = users
    watch = stub.WatchTasks(compute_pb2.WatchTasksRequest(), metadata=bob)
    assert (await asyncio.wait_for(watch.read(), 5)).status == "watching"
    alices = await submit(stub, alice, QUICK)
    assert await refusal(stub.GetTask(compute_pb2.GetTaskRequest(task_id=alices), metadata=bob)) == NOT_FOUND
    assert await refusal(stub.CancelTask(compute_pb2.CancelTaskRequest(task_id=alices), metadata=bob)) == NOT_FOUND
    # Bob's own task is the first update his watch sees: none of Alice's.
    bobs = await submit(stub, bob, QUICK)
    update = await asyncio.wait_for(watch.read(), 5)
    assert update.task_id == bobs, update
    watch.cancel()
