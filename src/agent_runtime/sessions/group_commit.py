"""Group commit: writes that arrive while a transaction is committing wait
and then commit together in the next one. Under concurrency one commit
serves many requests; alone, a write commits at once."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(self, commit: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int = 1024):
        self._commit = commit
        self._max_batch = max_batch
        self._waiting: list[tuple[list[Item], asyncio.Future[list[Result]]]] = []
        self._worker: asyncio.Task | None = None

    async def submit(self, items: list[Item]) -> list[Result]:
        """Commits `items` (in order, in one transaction with whatever else
        is waiting) and returns their results in the same order."""
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        # shield: a cancelled caller must not cancel the commit others share.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._waiting:
            batch, size = [], 0
            while self._waiting and (not batch or size + len(self._waiting[0][0]) <= self._max_batch):
                items, future = self._waiting.pop(0)
                batch.append((items, future))
                size += len(items)
            try:
                results = await self._commit([item for items, _ in batch for item in items])
            except Exception as error:  # noqa: BLE001 - every caller of this batch gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            offset = 0
            for items, future in batch:
                if not future.done():
                    future.set_result(results[offset : offset + len(items)])
                offset += len(items)
