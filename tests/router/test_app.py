"""The router's own routes through its ASGI app, over raw-socket loopback workers."""
from __future__ import annotations

import asyncio

import httpx

from sglike.runtime.router.app import create_app
from sglike.runtime.router.config import RouterConfig
from sglike.runtime.router.proxy import Router

from .test_proxy import RawWorker


def _run(main) -> None:
    asyncio.run(main())


def test_api_key_worker_list_and_health():
    async def main():
        a, b = await RawWorker("stream").start(), await RawWorker("stream").start()
        router = Router(RouterConfig(worker_urls=(a.url,), api_key="secret", policy="round_robin"))
        app = create_app(router, wait_for_workers=False)
        auth = {"Authorization": "Bearer secret"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router") as c:
            assert (await c.get("/health")).status_code == 200  # open, as a worker's
            assert (await c.get("/list_workers")).status_code == 401
            r = await c.post("/add_worker", params={"url": b.url + "/"}, headers=auth)
            assert r.status_code == 200 and b.url in r.text
            listed = (await c.get("/list_workers", headers=auth)).json()
            assert [w["url"] for w in listed["workers"]] == [a.url, b.url] and all(w["healthy"] for w in listed["workers"])
            seen = set()
            for _ in range(2):
                r = await c.post("/generate", json={"text": "hi", "stream": True}, headers=auth)
                assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
                seen.add(r.headers["x-sglike-worker"])
            assert seen == {a.url, b.url}
            assert (await c.post("/remove_worker", params={"url": a.url}, headers=auth)).status_code == 200
            assert (await c.post("/remove_worker", params={"url": a.url}, headers=auth)).status_code == 404
            assert (await c.post("/add_worker", params={"url": "nohttp"}, headers=auth)).status_code == 400
            assert (await c.post("/remove_worker", params={"url": b.url}, headers=auth)).status_code == 200
            r = await c.get("/health")
            assert r.status_code == 503 and "no healthy worker" in r.json()["error"]["message"]
            r = await c.post("/v1/completions", json={"model": "m", "prompt": "x"}, headers=auth)
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            metrics = (await c.get("/metrics")).text
        assert 'sglike_router_policy_decisions_total{decision="round_robin",policy="round_robin"} 2.0' in metrics
        assert 'sglike_router_no_worker_total 2.0' in metrics
        await router.aclose()

    _run(main)


def test_health_checks_drop_a_dead_worker_after_the_failure_threshold():
    async def main():
        live, dying = await RawWorker("stream").start(), await RawWorker("stream").start()
        router = Router(RouterConfig(worker_urls=(live.url, dying.url), health_failure_threshold=3,
                                     health_check_timeout_secs=1))
        dying.server.close()
        await dying.server.wait_closed()
        for expected in (True, True, False):
            await router.pool.check_all()
            assert router.pool.get(dying.url).healthy is expected
        assert [w.url for w in router.pool.healthy()] == [live.url]
        text = router.metrics.render().decode()
        assert f'sglike_router_worker_healthy{{worker="{dying.url}"}} 0.0' in text
        await router.aclose()

    _run(main)
