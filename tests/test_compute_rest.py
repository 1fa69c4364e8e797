"""The openruntime-compute document (`/devices`, `/tasks…`, `/metrics`,
`/health`, `/ai/insights`, `/ws` task updates) through Envoy."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest
import pytest_asyncio
import websockets

from agent_runtime.compute.host import system_memory
from conftest import TEST_API_KEY, http_client, make_settings, running
from identity_helpers import bearer, new_user

MAX_QUEUED = 6


@pytest_asyncio.fixture(scope="module")
async def runtime(tmp_path_factory):
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        # A whole server's probe, stored and used for selection.
        compute={"metrics_interval_seconds": 0.2, "max_queued": MAX_QUEUED, "probe": True},
    )
    async with running(settings) as started:
        await started.compute.probe_finished()
        yield started


def is_iso(text: str) -> bool:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


def assert_error(response, status: int, code: str, text: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert {"detail", "code", "timestamp"} <= set(body), body
    assert body["code"] == code and is_iso(body["timestamp"])
    assert text in body["detail"], body
    return body


async def submit(http, operation: str, parameters: dict | None = None, **fields) -> dict:
    body = {"operation": operation, "parameters": parameters or {}, **fields}
    response = await http.post("/tasks", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_done(http, task_id: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = (await http.get(f"/tasks/{task_id}")).json()
        if task["status"] not in ("queued", "running"):
            return task
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


async def test_devices_are_detected_with_real_memory_and_capabilities(http, runtime):
    response = await http.get("/devices")
    assert response.status_code == 200
    devices = response.json()["devices"]
    cpu = next(d for d in devices if d["id"] == "cpu_0")
    assert {"id", "name", "type", "status", "capabilities", "memory_total", "memory_available"} <= set(cpu)
    assert cpu["type"] == "cpu" and cpu["status"] == "available"
    assert {"numpy", "blas"} <= set(cpu["capabilities"])
    total, _ = system_memory()
    assert cpu["memory_total"] == total and isinstance(cpu["memory_total"], int)
    assert 0 < cpu["memory_available"] <= cpu["memory_total"]
    mlx_devices = [d for d in devices if d["backend"] == "mlx"]
    assert bool(mlx_devices) == ("mlx" in runtime.compute.registry.backends and runtime.compute.registry.backends["mlx"].available)
    for device in mlx_devices:
        assert "mlx" in device["capabilities"]
        assert ("metal" in device["capabilities"]) == (device["type"] == "gpu" and "cuda" not in device["capabilities"])


async def test_matrix_multiply_returns_documented_shape(http):
    task = await submit(http, "matrix_multiply", {"size": 128, "iterations": 2}, device_preference="auto", priority=1)
    assert task["task_id"].startswith("task_") and task["status"] == "completed"
    assert is_iso(task["timestamp"]) and task["execution_time"] > 0
    result = task["result"]
    assert result["execution_time"] == task["execution_time"]
    assert result["device_used"] in ("cpu_0", "mlx_cpu_0", "mlx_gpu_0")
    output = result["output"]
    assert output["shape"] == [128, 128] and output["gflops"] > 0 and output["checksum"] > 0
    assert output["device"] == result["device_used"]


@pytest.mark.parametrize(
    "operation, parameters, key",
    [
        ("vector_operations", {"size": 100000, "iterations": 3}, "gflops"),
        ("memory_bandwidth", {"size_mb": 8, "iterations": 3}, "bandwidth_gb_s"),
        ("compute", {"size": 50000, "iterations": 2}, "gflops"),
        ("mlx_operation", {"operation": "softmax", "size": 64}, "gflops"),
    ],
)
async def test_every_operation_runs_with_real_output(http, runtime, operation, parameters, key):
    if operation == "mlx_operation" and not runtime.compute.registry.backends["mlx"].available:
        response = await http.post("/tasks", json={"operation": operation, "parameters": parameters})
        assert_error(response, 422, "DEVICE_UNAVAILABLE", "MLX")
        return
    task = await submit(http, operation, parameters)
    assert task["status"] == "completed", task
    output = task["result"]["output"]
    assert output[key] > 0 and output["operation"] == operation
    if operation == "mlx_operation":
        assert task["result"]["device_used"].startswith("mlx_")
        assert output["checksum"] == pytest.approx(64, rel=1e-3)  # softmax rows sum to 1
    if operation == "memory_bandwidth":
        assert output["bytes_per_copy"] == 8 * 1024 * 1024


async def test_device_preferences(http, runtime):
    cpu = await submit(http, "matrix_multiply", {"size": 32}, device_preference="cpu")
    assert runtime.compute.registry.device(cpu["result"]["device_used"]).type == "cpu"
    gpu = await submit(http, "matrix_multiply", {"size": 32}, device_preference="gpu")
    if not any(d.type == "gpu" for d in runtime.compute.registry.devices):
        assert "no gpu device" in gpu["result"]["output"]["selection"]
    explicit = await submit(http, "matrix_multiply", {"size": 32}, device_preference="cpu_0")
    assert explicit["result"]["device_used"] == "cpu_0"
    response = await http.post("/tasks", json={"operation": "compute", "parameters": {}, "device_preference": "tpu_0"})
    assert_error(response, 422, "VALIDATION_ERROR", "device_preference must be auto, cpu, gpu or a device id")


@pytest.mark.parametrize(
    "body, status, code, text",
    [
        ({"operation": "matrix_multiply", "parameters": {"size": 10**7}}, 413, "TASK_TOO_LARGE", "limit per task"),
        ({"operation": "matrix_multiply", "parameters": {"size": -1}}, 422, "VALIDATION_ERROR", "at least 1"),
        # Integral floats beyond exact integers overflowed the memory estimate (500).
        ({"operation": "matrix_multiply", "parameters": {"size": 1e300}}, 422, "VALIDATION_ERROR", "at most"),
        ({"operation": "mlx_operation", "parameters": {"size": 1e300}}, 422, "VALIDATION_ERROR", "at most"),
        ({"operation": "memory_bandwidth", "parameters": {"size_mb": -64}}, 422, "VALIDATION_ERROR", "at least 1"),
        ({"operation": "matrix_multiply", "parameters": {"size": "1000"}}, 422, "VALIDATION_ERROR", "must be an integer"),
        ({"operation": "matrix_multiply", "parameters": {"size": [1]}}, 422, "VALIDATION_ERROR", "must be an integer"),
        ({"operation": "matrix_multiply", "priority": 0}, 422, "VALIDATION_ERROR", "priority"),
        ({"operation": "matrix_multiply", "priority": "high"}, 400, "BAD_REQUEST", "priority"),
        ({"operation": "matrix_multiply", "parameters": "size=10"}, 400, "BAD_REQUEST", ""),
        ({"operation": 7}, 400, "BAD_REQUEST", ""),
        ({"parameters": {"size": 10}}, 422, "VALIDATION_ERROR", "operation must be one of"),
        ({"operation": "matrix_multiply", "timeout": 100000}, 422, "VALIDATION_ERROR", "timeout"),
    ],
)
async def test_abusive_requests_get_clear_errors(http, body, status, code, text):
    assert_error(await http.post("/tasks", json=body), status, code, text)


async def test_server_stays_responsive_after_abuse(http):
    for size in (10**7, -(10**7), 10**9):
        await http.post("/tasks", json={"operation": "vector_operations", "parameters": {"size": size}})
    assert (await http.get("/health")).json()["status"] == "healthy"


async def test_queue_limit_cancel_and_active_tasks_in_health(http):
    blocker = await submit(http, "matrix_multiply", {"size": 512, "iterations": 1000}, device_preference="cpu_0", wait=False)
    assert blocker["status"] == "queued"
    while (await http.get(f"/tasks/{blocker['task_id']}")).json()["status"] == "queued":
        await asyncio.sleep(0.01)
    health = (await http.get("/health")).json()
    assert health["metrics"]["active_tasks"] == 1
    devices = (await http.get("/devices")).json()["devices"]
    assert next(d for d in devices if d["id"] == "cpu_0")["status"] == "busy"
    queued = [(await submit(http, "compute", {"size": 1000}, priority=p, wait=False))["task_id"] for p in range(1, MAX_QUEUED + 1)]
    response = await http.post("/tasks", json={"operation": "compute", "parameters": {}, "wait": False})
    assert_error(response, 429, "QUEUE_FULL", "queue is full")
    metrics = (await http.get("/metrics")).json()
    assert metrics["queued_tasks"] == MAX_QUEUED and metrics["active_tasks"] == 1

    cancelled = await http.post(f"/tasks/{blocker['task_id']}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    finished = [await wait_done(http, task_id) for task_id in queued]
    assert [t["status"] for t in finished] == ["completed"] * MAX_QUEUED
    assert_error(await http.post(f"/tasks/{blocker['task_id']}/cancel", json={}), 400, "FAILED_PRECONDITION", "already finished")
    assert_error(await http.post("/tasks/task_unknown/cancel", json={}), 404, "TASK_NOT_FOUND", "not found")


async def test_timeout_is_reported_on_the_task(http):
    task = await submit(http, "matrix_multiply", {"size": 512, "iterations": 1000}, device_preference="cpu_0", timeout=0.3)
    assert task["status"] == "timeout" and "timeout" in task["error"]
    assert "result" not in task or task["result"] is None or task["result"] == {} or not task["result"].get("output")


async def test_tasks_enhanced_pages_with_total_count_and_metrics(http):
    for size in (16, 32, 48):
        await submit(http, "matrix_multiply", {"size": size})
    first = (await http.get("/tasks/enhanced", params={"limit": 2})).json()
    assert set(first) == {"tasks", "total_count", "timestamp"}
    assert len(first["tasks"]) == 2 and first["total_count"] >= 3
    task = first["tasks"][0]
    assert {"task_id", "operation", "status", "performance_metrics", "timestamp"} <= set(task)
    assert task["operation"] == "matrix_multiply" and task["status"] == "completed"
    metrics = task["performance_metrics"]
    assert {"execution_time_ms", "memory_used_mb", "gpu_utilization"} <= set(metrics)
    assert metrics["execution_time_ms"] > 0 and metrics["memory_used_mb"] == pytest.approx(20 * 48 * 48 / 2**20, abs=1e-3)
    second = (await http.get("/tasks/enhanced", params={"limit": 2, "offset": 2})).json()
    assert second["total_count"] == first["total_count"]
    assert not {t["task_id"] for t in first["tasks"]} & {t["task_id"] for t in second["tasks"]}
    default = (await http.get("/tasks/enhanced")).json()
    assert len(default["tasks"]) == min(100, default["total_count"])
    assert_error(await http.get("/tasks/enhanced", params={"limit": -1}), 422, "VALIDATION_ERROR", "must not be negative")


async def test_metrics_json_and_prometheus(http):
    response = await http.get("/metrics")
    body = response.json()
    assert {"gpu_utilization", "memory_usage", "active_tasks", "ai_tasks_processed", "uptime", "timestamp"} <= set(body)
    assert body["uptime"].endswith("s") or body["uptime"].endswith("m")
    assert 0 < body["memory_usage"] < 100 and body["tasks_completed"] >= 1
    text = await http.get("/metrics/prometheus")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "# TYPE agentruntime_compute_tasks_total counter" in text.text
    assert 'agentruntime_device_memory_total_bytes{device="cpu_0"' in text.text
    negotiated = await http.get("/metrics", headers={"accept": "text/plain"})
    assert negotiated.headers["content-type"].startswith("text/plain")
    assert "agentruntime_compute_active_tasks" in negotiated.text
    assert (await http.get("/metrics", headers={"accept": "application/json"})).json()["uptime"]


async def test_metrics_are_sampled_into_storage_and_insights_analyse_them(http, runtime):
    await submit(http, "vector_operations", {"size": 10000})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        row = await runtime.database.fetch_one("SELECT COUNT(*) FROM compute_metric_samples")
        if row[0] >= 3:
            break
        await asyncio.sleep(0.1)
    response = await http.post("/ai/insights", json={"metric_type": "performance", "timeframe": "5m"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"insights", "metrics", "timestamp"} <= set(body)
    assert set(body["metrics"]) == {"gpu_utilization", "memory_usage", "active_tasks", "ai_tasks_processed"}
    assert body["insights"].startswith("Based on the last 5m of performance data")
    assert body["sample_count"] >= 3 and body["analyzer"] == "deterministic"
    assert body["analysis"]["series"]["cpu_utilization"]["average"] >= 0
    assert body["analysis"]["tasks"]["count"] >= 1
    for metric_type in ("memory", "efficiency", "errors"):
        other = await http.post("/ai/insights", json={"metric_type": metric_type, "timeframe": "7d"})
        assert other.status_code == 200 and other.json()["insights"].startswith(f"Based on the last 7d of {metric_type}")
    assert_error(await http.post("/ai/insights", json={"metric_type": "vibes", "timeframe": "1h"}), 422, "VALIDATION_ERROR", "metric_type")
    assert_error(await http.post("/ai/insights", json={"metric_type": "memory", "timeframe": "1y"}), 422, "VALIDATION_ERROR", "timeframe")
    plotted = await http.get("/metrics/series", params={"timeframe": "5m", "max_points": 10})
    assert plotted.status_code == 200, plotted.text
    series = plotted.json()
    assert series["timeframe"] == "5m" and series["sample_count"] >= 3 and series["bucket_seconds"] == 30
    assert sum(point["sample_count"] for point in series["points"]) == series["sample_count"]
    assert {"timestamp", "cpu_utilization", "memory_usage", "queued_tasks"} <= set(series["points"][-1])
    assert_error(await http.get("/metrics/series", params={"timeframe": "1y"}), 422, "VALIDATION_ERROR", "timeframe")
    assert_error(await http.get("/metrics/series", params={"timeframe": "1h", "max_points": 5000}), 422, "VALIDATION_ERROR", "max_points")


async def test_ws_sends_task_updates_next_to_the_session_feed(runtime, http):
    url = runtime.http_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(url, additional_headers={"x-api-key": TEST_API_KEY}) as socket:
        seen = []
        while len(seen) < 2:
            seen.append(json.loads(await asyncio.wait_for(socket.recv(), 5))["type"])
        assert seen == ["connected", "init"]
        task = await submit(http, "compute", {"size": 1000})
        statuses = []
        deadline = time.monotonic() + 5
        while "completed" not in statuses and time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            if message["type"] == "task_update" and message["data"]["task_id"] == task["task_id"]:
                statuses.append(message["data"]["status"])
                data = message["data"]
        assert statuses == ["queued", "running", "completed"]
        assert data["execution_time"] == task["execution_time"] and is_iso(data["timestamp"])
        # heartbeats keep coming with metrics
        while (message := json.loads(await asyncio.wait_for(socket.recv(), 5)))["type"] != "heartbeat":
            pass
        assert {"gpu_utilization", "memory_usage", "active_tasks"} <= set(message["metrics"])


async def test_compute_over_native_grpc(channel):
    from agentruntime.v1 import compute_pb2, compute_pb2_grpc
    from conftest import grpc_metadata

    stub = compute_pb2_grpc.ComputeServiceStub(channel)
    request = compute_pb2.CreateTaskRequest(operation="matrix_multiply", device_preference="cpu_0")
    request.parameters.update({"size": 64})
    task = await stub.CreateTask(request, metadata=grpc_metadata())
    assert task.status == "completed" and task.result.device_used == "cpu_0"
    devices = await stub.ListDevices(compute_pb2.ListDevicesRequest(), metadata=grpc_metadata())
    assert any(d.id == "cpu_0" for d in devices.devices)


async def test_watch_tasks_stream_over_native_grpc(channel, http):
    from agentruntime.v1 import compute_pb2, compute_pb2_grpc
    from conftest import grpc_metadata

    stub = compute_pb2_grpc.ComputeServiceStub(channel)
    call = stub.WatchTasks(compute_pb2.WatchTasksRequest(), metadata=grpc_metadata())
    first = await asyncio.wait_for(call.read(), 5)
    assert first.status == "watching" and first.task_id == ""
    task = await submit(http, "vector_operations", {"size": 100})
    seen = []
    while "completed" not in seen:
        update = await asyncio.wait_for(call.read(), 5)
        if update.task_id == task["task_id"]:
            seen.append(update.status)
            assert update.operation == "vector_operations"
    assert seen == ["queued", "running", "completed"]
    call.cancel()


async def test_ws_task_updates_only_for_own_tasks(runtime):
    """The `/ws` feed's share of test_compute_ownership.py's rule."""
    async with http_client(runtime, None) as http:
        _, alice = await new_user(http, "alice")
        _, bob = await new_user(http, "bob")
        url = runtime.http_url.replace("http://", "ws://") + "/ws"
        async with websockets.connect(url, additional_headers=bearer(bob)) as socket:
            while json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] != "init":
                pass
            quick = {"operation": "vector_operations", "parameters": {"size": 100}}
            alices = (await http.post("/tasks", json=quick, headers=bearer(alice))).json()["task_id"]
            bobs = (await http.post("/tasks", json=quick, headers=bearer(bob))).json()["task_id"]
            seen = []
            while bobs not in seen:
                message = json.loads(await asyncio.wait_for(socket.recv(), 5))
                if message["type"] == "task_update":
                    seen.append(message["data"]["task_id"])
            assert alices not in seen
