"""`agent-runtime tiny-model` writes a model to fine-tune without a
download; placed under <data dir>/models/NAME it is registered at start."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import grpc
import pytest

from agentruntime.v1 import ml_pb2, ml_pb2_grpc

from conftest import grpc_metadata, make_settings, running


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_runtime", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.long
async def test_tiny_model_is_written_and_registered_at_start(tmp_path):
    data_dir = tmp_path / "data"
    written = _cli("tiny-model", str(data_dir / "models" / "tiny"))
    assert written.returncode == 0, written.stderr
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in (data_dir / "models" / "tiny").iterdir()}
    again = _cli("tiny-model", str(data_dir / "models" / "tiny"))
    assert again.returncode == 2 and "not empty" in again.stderr

    async with running(make_settings(data_dir, server={"run_envoy": False})) as runtime:
        async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
            models = await ml_pb2_grpc.MLServiceStub(channel).ListModels(ml_pb2.ListModelsRequest(), metadata=grpc_metadata())
    assert "tiny" in [model.id for model in models.models]


def test_tiny_model_reads_a_corpus_file(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello world\nthe quick brown fox\n")
    written = _cli("tiny-model", str(tmp_path / "model"), "--corpus", str(corpus))
    assert written.returncode == 0, written.stderr
    missing = _cli("tiny-model", str(tmp_path / "other"), "--corpus", str(tmp_path / "missing.txt"))
    assert missing.returncode == 2 and "missing.txt" in missing.stderr
