"""The proxy's failure handling against raw-socket workers that fail in set ways.

A real worker cannot be made to die at an exact byte; these loopback servers do: close the
connection before answering, answer 503, or break a stream after its first event."""
from __future__ import annotations

import asyncio
import json

import pytest

from sglike.runtime.router.config import RouterConfig
from sglike.runtime.router.proxy import WORKER_HEADER, Incoming, Router
from sglike.runtime.server.errors import APIError

_EVENT = b'data: {"text": "hi"}\n\n'


class RawWorker:
    """Answers GET /health with 200; any other request as ``mode`` says."""

    def __init__(self, mode: str) -> None:
        self.mode, self.hits = mode, 0

    async def start(self) -> "RawWorker":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), 0)
        await reader.readexactly(length)
        if head.startswith(b"GET /health"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        else:
            self.hits += 1
            writer.write(self._answer())
        await writer.drain()
        writer.close()

    def _answer(self) -> bytes:
        if self.mode == "close":
            return b""
        if self.mode == "503":
            body = b'{"error": {"message": "engine is not available"}}'
            return b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        sse = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        chunk = b"%x\r\n%s\r\n" % (len(_EVENT), _EVENT)
        if self.mode == "half_stream":
            return sse + chunk  # then the connection closes without the last chunk
        done = b"data: [DONE]\n\n"
        return sse + chunk + b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done)


def _generate(stream: bool) -> Incoming:
    body = json.dumps({"text": "hello", "stream": stream}).encode()
    return Incoming(route="/generate", method="POST", path="/generate", headers={"content-type": "application/json"},
                    body=body)


async def _body(response) -> bytes:
    if hasattr(response, "body_iterator"):
        return b"".join([chunk async for chunk in response.body_iterator])
    return response.body


async def _router(*modes: str, policy: str = "round_robin") -> tuple[Router, list[RawWorker]]:
    workers = [await RawWorker(m).start() for m in modes]
    router = Router(RouterConfig(worker_urls=tuple(w.url for w in workers), policy=policy,
                                 retry_initial_backoff_ms=1))
    return router, workers


def _metric(router: Router, name: str) -> float:
    return sum(s.value for m in router.metrics.registry.collect() for s in m.samples if s.name == name)


@pytest.mark.parametrize("failure", ["close", "503"])
def test_a_stream_that_sent_nothing_is_retried_on_another_worker(failure):
    async def main():
        router, (bad, good) = await _router(failure, "stream")
        response = await router.forward(_generate(stream=True))
        body = await _body(response)
        assert response.headers[WORKER_HEADER] == good.url
        assert body == _EVENT + b"data: [DONE]\n\n"
        assert bad.hits == 1 and good.hits == 1 and _metric(router, "sglike_router_retries_total") == 1
        assert router.pool.get(bad.url).healthy is (failure == "503")  # a 503 leaves it to the health checks
        assert all(w.load == 0 for w in router.pool.workers)
        await router.aclose()

    asyncio.run(main())


def test_a_non_streaming_request_is_retried_until_a_worker_answers():
    async def main():
        router, (bad, also_bad, good) = await _router("close", "503", "stream", policy="shortest_queue")
        response = await router.forward(_generate(stream=False))
        assert response.status_code == 200 and response.headers[WORKER_HEADER] == good.url
        assert bad.hits == also_bad.hits == good.hits == 1
        await router.aclose()

    asyncio.run(main())


def test_a_stream_broken_after_its_first_bytes_ends_with_an_error_event():
    async def main():
        router, (broken, good) = await _router("half_stream", "stream")
        body = await _body(await router.forward(_generate(stream=True)))
        first, error = body.split(b"\n\n", 1)
        assert first + b"\n\n" == _EVENT and b'"error"' in error and b"not retried" in error
        assert good.hits == 0 and router.pool.get(broken.url).healthy is False
        assert all(w.load == 0 for w in router.pool.workers)
        await router.aclose()

    asyncio.run(main())


def test_no_healthy_worker_is_a_clear_503():
    async def main():
        router, (bad,) = await _router("close")
        with pytest.raises(APIError) as err:
            await router.forward(_generate(stream=False))  # the one worker fails and is dropped
        assert err.value.status == 503
        with pytest.raises(APIError) as err:
            await router.forward(_generate(stream=False))
        assert err.value.status == 503 and "no healthy worker" in err.value.message
        await router.pool.check_all()
        await router.pool.check_all()  # /health answers: back after two good checks
        assert router.pool.get(bad.url).healthy
        await router.aclose()

    asyncio.run(main())


def test_a_client_that_leaves_before_the_stream_is_sent_frees_the_worker():
    async def main():
        router, (good,) = await _router("stream")
        response = await router.forward(_generate(stream=True))
        assert router.pool.workers[0].load == 1

        async def receive():
            return {"type": "http.disconnect"}  # gone at once

        async def send(message):
            await asyncio.sleep(0.1)

        await response({"type": "http", "asgi": {"version": "3.0"}}, receive, send)
        assert router.pool.workers[0].load == 0
        await router.aclose()

    asyncio.run(main())
