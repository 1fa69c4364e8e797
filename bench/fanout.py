"""The /ws fan-out phase of bench/run.py: latency from sending an event to its
arrival at each of many /ws clients (through Envoy and the bridge), and the
CPU per event of the server and of the bench's own clients.

The clients share this process and one core. With websockets' asyncio
client each message costs a queue and a task switch per client (~50 µs
here, against ~30 µs below), so at 1,000 subscribers the bench itself
spent more than twice the 20 ms goal reading one event. Each client here is an asyncio.Protocol on
websockets' Sans-I/O protocol instead: frames are parsed in the loop's read
callback, pings answered, and the arrival time taken as the data comes in.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid

import grpc
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from agentruntime.v1 import session_pb2 as pb
from agentruntime.v1 import session_pb2_grpc

# Clients that open their socket at the same time.
CONNECT_BATCH = 25


class FeedClient(asyncio.Protocol):
    """One /ws client; `on_message(text, arrived)` gets each text message."""

    def __init__(self, url: str, headers: dict[str, str], on_message):
        self._protocol = ClientProtocol(parse_uri(url), max_size=None)
        self._headers = headers
        self._on_message = on_message
        self._transport: asyncio.Transport | None = None
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self._transport = transport
        request = self._protocol.connect()
        for name, value in self._headers.items():
            request.headers[name] = value
        self._protocol.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Response):
                if self._protocol.state is State.OPEN:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(RuntimeError(f"/ws refused: {event.status_code} {event.body!r}"))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._on_message(event.data, arrived)
        self._flush()  # pongs

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"/ws closed during the handshake: {exc}"))

    def _flush(self) -> None:
        for data in self._protocol.data_to_send():
            if data:
                self._transport.write(data)

    def close(self) -> None:
        self._transport.close()


async def fan_out(http_url: str, target: str, subscribers: int, events: int, meters: dict, api_key: str) -> dict:
    """Sends `events` events 20 ms apart to a session watched by
    `subscribers` /ws clients; returns every delivery's latency (seconds)
    and the CPU ms per event, while events flow, of each of `meters`
    (name: a function giving that process's CPU seconds so far), as
    `{name}_ms`, and of this process, as `client_ms`."""
    url = urllib.parse.urlsplit(http_url)
    # A session of its own: --rounds measures one server more than once.
    session_id = f"fanout-{uuid.uuid4().hex[:8]}"
    ws_url = f"ws://{url.netloc}/ws?session_id={session_id}"
    metadata = (("x-api-key", api_key),)
    sent: dict[str, float] = {}
    arrivals: list[float] = []
    all_delivered = asyncio.get_running_loop().create_future()

    def on_message(text: bytes, arrived: float) -> None:
        message = json.loads(text)
        if message["type"] == "event":
            arrivals.append(arrived - sent[message["data"]["tool_name"]])
            if len(arrivals) == subscribers * events and not all_delivered.done():
                all_delivered.set_result(None)

    async def connect() -> FeedClient:
        _, client = await asyncio.get_running_loop().create_connection(
            lambda: FeedClient(ws_url, {"x-api-key": api_key}, on_message), url.hostname, url.port
        )
        await client.opened
        return client

    async with grpc.aio.insecure_channel(target) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        await stub.CreateSession(pb.CreateSessionRequest(session_id=session_id), metadata=metadata)
        clients: list[FeedClient] = []
        for start in range(0, subscribers, CONNECT_BATCH):
            clients += await asyncio.gather(*(connect() for _ in range(min(CONNECT_BATCH, subscribers - start))))
        await asyncio.sleep(1)  # every client's `connected` and `init` arrive
        meters = {**meters, "client": time.process_time}
        before = {name: meter() for name, meter in meters.items()}
        for index in range(events):
            name = f"e{index}"
            sent[name] = time.perf_counter()
            event = pb.Event(event_type="pre_tool", tool_name=name)
            await stub.CreateEvent(pb.CreateEventRequest(session_id=session_id, event=event), metadata=metadata)
            await asyncio.sleep(0.02)
        await asyncio.wait_for(all_delivered, 60)
        used = {f"{name}_ms": (meter() - before[name]) / events * 1000 for name, meter in meters.items()}
        for client in clients:
            client.close()
    return {"arrivals": arrivals, **used}
