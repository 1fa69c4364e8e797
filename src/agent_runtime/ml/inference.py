"""Local streaming inference with registered MLX models (the `mlx` LLM
provider).

The server builds one engine at start (`Runtime.inference`) and hands it to
what needs it (the `mlx` provider):

    async for piece in engine.stream_chat(
        "tiny", [{"role": "user", "content": "Hi"}], max_tokens=64, temperature=0.0
    ):
        print(piece, end="")

`model_id` is any model in the ML registry (`GET /ml-api/models/`): a local
MLX model directory, or a fine-tuned model (`<base>:<suffix>:<job id>`, the
base model with its LoRA adapters). `messages` are chat messages
`{"role": "system"|"user"|"assistant", "content": str}`, rendered with the
tokenizer's chat template (or a plain `role: content` transcript when it has
none). Pieces of text are yielded as the model produces them; the stream ends
at the end-of-sequence token or after `max_tokens` tokens. `temperature` 0
decodes greedily.

Errors are domain errors: NotFound (unknown model), InvalidArgument (bad
messages or settings), Unavailable (MLX not installed). Generation runs on
one background thread (MLX work is serialised); closing the iterator early stops generation after the current
token. Loaded models are kept (least recently used first out, `max_loaded`).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import threading
from typing import Any, AsyncIterator, Awaitable, Callable

from agent_runtime.errors import InvalidArgument, Unavailable

_DONE = object()


@dataclasses.dataclass(frozen=True)
class ModelLocation:
    """Where a registered model's files are: the MLX model directory and, for
    a fine-tuned model, its LoRA adapter directory."""

    path: str
    adapter_path: str | None = None


Resolver = Callable[[str], Awaitable[ModelLocation]]


def render_prompt(tokenizer: Any, messages: list[dict]) -> Any:
    """Token ids (chat template) or text (fallback transcript) to generate from."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def check_messages(messages: list[dict]) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise InvalidArgument("messages must be a non-empty list of {role, content}")
    checked = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise InvalidArgument(f"messages[{index}] must be an object with a string content")
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            raise InvalidArgument(f"messages[{index}].role must be system, user, assistant or tool")
        checked.append({"role": message["role"], "content": message["content"]})
    return checked


class LocalInference:
    """Streams chat completions from registered MLX models."""

    def __init__(self, resolve: Resolver, *, max_loaded: int = 2):
        self._resolve = resolve
        self._max_loaded = max_loaded
        self._loaded: collections.OrderedDict[ModelLocation, tuple[Any, Any]] = collections.OrderedDict()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlx-generate")

    def _load(self, location: ModelLocation) -> tuple[Any, Any]:
        if location in self._loaded:
            self._loaded.move_to_end(location)
            return self._loaded[location]
        from mlx_lm import load

        model, tokenizer = load(location.path, adapter_path=location.adapter_path)
        self._loaded[location] = (model, tokenizer)
        while len(self._loaded) > self._max_loaded:
            self._loaded.popitem(last=False)
        return model, tokenizer

    def _generate(self, location, messages, max_tokens, temperature, emit, stop: threading.Event) -> None:
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        model, tokenizer = self._load(location)
        prompt = render_prompt(tokenizer, messages)
        sampler = make_sampler(temp=temperature)
        for response in stream_generate(model, tokenizer, prompt, max_tokens=max_tokens, sampler=sampler):
            if stop.is_set():
                return
            if response.text:
                emit(response.text)

    async def stream_chat(
        self, model_id: str, messages: list[dict], *, max_tokens: int = 512, temperature: float = 0.7
    ) -> AsyncIterator[str]:
        try:
            import mlx_lm  # noqa: F401
        except ImportError:
            raise Unavailable("MLX is not installed on this server: local models cannot run") from None
        checked = check_messages(messages)
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidArgument("max_tokens must be a positive integer")
        if not 0 <= float(temperature) <= 5:
            raise InvalidArgument("temperature must be between 0 and 5")
        location = await self._resolve(model_id)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                self._generate(location, checked, max_tokens, float(temperature), emit, stop)
            except BaseException as error:  # noqa: BLE001 - handed to the consumer
                emit(error)
            finally:
                emit(_DONE)

        future = loop.run_in_executor(self._executor, work)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise Unavailable(f"local model {model_id!r} failed to generate: {item}") from item
                yield item
        finally:
            stop.set()
            await asyncio.shield(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
