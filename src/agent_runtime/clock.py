"""Time helpers: one clock for the domain classes, replaceable in tests."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from google.protobuf import timestamp_pb2

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as the documents show timestamps."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def datetime_proto(moment: dt.datetime) -> timestamp_pb2.Timestamp:
    """The protobuf Timestamp of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def timestamp_proto(text: str | None) -> timestamp_pb2.Timestamp | None:
    """The protobuf Timestamp of an ISO 8601 string; None for none."""
    if not text:
        return None
    return datetime_proto(parse_iso(text))
