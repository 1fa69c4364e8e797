"""Contract of the ML domain's ports (ml/ports.py): models, files and
fine-tuning jobs with their events."""

from __future__ import annotations

import dataclasses

from agent_runtime.ml.models import FileRecord, JobEvent, JobRecord, ModelRecord


def model(model_id: str, created_at: str = "2026-01-01T00:00:00.000Z", **fields) -> ModelRecord:
    values = dict(
        id=model_id, name=f"model {model_id}", version="1.0.0", description="a model", parameters={"temperature": 0.7},
        kind="mlx", path=f"/models/{model_id}", adapter_path=None, base_model_id=None,
        created_at=created_at, updated_at=created_at,
    )
    return ModelRecord(**{**values, **fields})


def file(file_id: str, created_at: int, owner: str | None = None) -> FileRecord:
    return FileRecord(file_id, f"{file_id}.jsonl", "fine-tune", 120, 3, "chat", f"/files/{file_id}", created_at, owner)


def job(job_id: str, status: str = "created", created_at: str = "2026-01-01T00:00:00.000Z", owner: str | None = None, **fields) -> JobRecord:
    values = dict(
        id=job_id, model_id="base", status=status, created_at=created_at, updated_at=created_at,
        fine_tuned_model=None, training_file="train", validation_file="valid", suffix="s",
        compute_config={"device": "cpu"}, hyperparameters={"n_steps": 10}, metrics=None, error=None,
        last_sequence=1, owner_id=owner,
    )
    return JobRecord(**{**values, **fields})


def created(job_id: str) -> JobEvent:
    return JobEvent(job_id, 1, "status", "2026-01-01T00:00:00.000Z", "created", "created")


async def test_models_read_back_in_order_of_creation_and_an_id_is_taken_once(stores):
    later, earlier = model("b", "2026-01-01T00:00:02.000Z"), model("a", "2026-01-01T00:00:01.000Z")
    assert await stores.models.add_model(later) is True
    assert await stores.models.add_model(earlier) is True
    assert await stores.models.add_model(model("a", name="again")) is False
    assert await stores.models.get_model("a") == earlier
    assert await stores.models.get_model("missing") is None
    assert await stores.models.list_models() == [earlier, later]


async def test_upserting_a_model_inserts_it_or_changes_all_but_its_creation(stores):
    first = model("m", "2026-01-01T00:00:00.000Z")
    await stores.models.upsert_model(first)
    assert await stores.models.get_model("m") == first
    changed = model(
        "m", "2026-02-01T00:00:00.000Z", name="renamed", kind="fine_tuned", adapter_path="/adapters/m",
        base_model_id="base", parameters={"temperature": 0.1}, updated_at="2026-02-01T00:00:00.000Z",
    )
    await stores.models.upsert_model(changed)
    assert await stores.models.get_model("m") == dataclasses.replace(changed, created_at=first.created_at)


async def test_files_read_back_newest_first_per_owner_and_delete(stores):
    for index, owner in enumerate(["alice", "bob", "alice"]):
        await stores.files.add_file(file(f"f{index}", 1000 + index, owner))
    assert await stores.files.get_file("f1") == file("f1", 1001, "bob")
    assert [f.id for f in await stores.files.list_files()] == ["f2", "f1", "f0"]
    assert [f.id for f in await stores.files.list_files("alice")] == ["f2", "f0"]
    assert await stores.files.delete_file("f1") is True
    assert await stores.files.delete_file("f1") is False
    assert await stores.files.get_file("f1") is None


async def test_a_job_reads_back_with_its_first_event(stores):
    new = job("j1", owner="alice")
    await stores.jobs.add_job(new, created("j1"))
    assert await stores.jobs.get_job("j1") == new
    assert await stores.jobs.get_job("missing") is None
    assert await stores.jobs.list_job_events("j1", 0) == [created("j1")]


async def test_jobs_list_by_status_oldest_first_or_all_newest_first_per_owner(stores):
    for index, (status, owner) in enumerate([("running", "alice"), ("succeeded", "bob"), ("queued", "alice"), ("created", None)]):
        await stores.jobs.add_job(job(f"j{index}", status, f"2026-01-01T00:00:0{index}.000Z", owner), created(f"j{index}"))
    assert [j.id for j in await stores.jobs.list_jobs()] == ["j3", "j2", "j1", "j0"]
    assert [j.id for j in await stores.jobs.list_jobs(scope="alice")] == ["j2", "j0"]
    assert [j.id for j in await stores.jobs.list_jobs(("created", "queued", "running"))] == ["j0", "j2", "j3"]
    assert [j.id for j in await stores.jobs.list_jobs(("queued", "succeeded"), scope="bob")] == ["j1"]


async def test_an_update_changes_the_job_and_appends_the_next_event(stores):
    await stores.jobs.add_job(job("j1"), created("j1"))
    proposed = JobEvent("j1", 0, "metrics", "2026-01-01T00:00:05.000Z", "step 5", "running", {"loss": 1.5}, 5)
    updated, stored = await stores.jobs.update_job(
        "j1", "2026-01-01T00:00:05.000Z", {"status": "running", "metrics": {"loss": 1.5}}, proposed
    )
    assert (updated.status, updated.metrics, updated.updated_at, updated.last_sequence) == (
        "running", {"loss": 1.5}, "2026-01-01T00:00:05.000Z", 2
    )
    assert stored == dataclasses.replace(proposed, sequence=2)
    assert await stores.jobs.get_job("j1") == updated
    assert await stores.jobs.list_job_events("j1", 1) == [stored]
    # Changes alone append nothing.
    plain, none = await stores.jobs.update_job("j1", "2026-01-01T00:00:06.000Z", {"error": "note"}, None)
    assert none is None and plain.error == "note" and plain.last_sequence == 2


async def test_an_update_only_if_status_changes_nothing_otherwise(stores):
    await stores.jobs.add_job(job("j1", "cancelled"), created("j1"))
    event = JobEvent("j1", 0, "status", "2026-01-01T00:00:05.000Z", "running", "running")
    assert await stores.jobs.update_job("j1", "later", {"status": "running"}, event, only_if_status=("queued",)) is None
    assert await stores.jobs.get_job("j1") == job("j1", "cancelled")
    assert await stores.jobs.list_job_events("j1", 0) == [created("j1")]
    assert await stores.jobs.update_job("missing", "later", {"status": "running"}, None) is None


async def test_jobs_using_a_file_in_given_statuses(stores):
    await stores.jobs.add_job(job("trains", "running", training_file="f1", validation_file=None), created("trains"))
    await stores.jobs.add_job(job("validates", "queued", training_file="f2", validation_file="f1"), created("validates"))
    await stores.jobs.add_job(job("done", "succeeded", training_file="f1"), created("done"))
    using = await stores.jobs.jobs_using_file("f1", ("created", "queued", "running"))
    assert sorted(using) == ["trains", "validates"]
    assert await stores.jobs.jobs_using_file("f3", ("running",)) == []
