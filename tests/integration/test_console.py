"""The ops console in a real browser: Debian's chromium, driven by Playwright, against `touchpoint console`
following the shared after-hours worker.

An operator signs in, sees an unanswered evening inquiry's alert arrive without reloading,
acknowledges it (the page and the topic both show who did), and opens the customer. A
wrong password is refused. Screenshots go to test-artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.async_api import Browser, Page, async_playwright

from streams import topics
from streams.auth import hash_password
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.services import ServiceProcess
from streams.local.supervisor import WorkerProcess
from tests.after_hours import ALERT_TYPE, unanswered_inquiry
from tests.kafka_helpers import collect, produce

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
#: Debian's browser, never a download; no sandbox (tests may run as root), nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
OPERATOR, PASSWORD = "anna", "correct horse battery staple"
ARTIFACTS = Path(
    os.environ.get("TOUCHPOINT_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def console(
    after_hours: tuple[EmbeddedBroker, WorkerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    broker, worker = after_hours
    port = free_port()
    process = ServiceProcess(
        ["console", "--broker", broker.url, "--port", str(port), "--worker-url", worker.base_url],
        f"http://127.0.0.1:{port}/healthz",
        tmp_path_factory.mktemp("console") / "console.log",
        env={
            "TOUCHPOINT_CONSOLE_USERS": f"{OPERATOR}:{hash_password(PASSWORD)}",
            "TOUCHPOINT_CONSOLE_SESSION_SECRET": uuid.uuid4().hex,
        },
    )
    try:
        process.start().wait_ready()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        from tests.alertmanager_helpers import missing_tool

        pytest.fail(missing_tool("chromium"))
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def _shot(page: Page, name: str) -> None:
    (ARTIFACTS / "console").mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console" / f"{name}.png"), full_page=True)


async def _sign_in(page: Page, console: str, password: str) -> None:
    await page.goto(console + "/")
    assert "/sign-in" in page.url, "the inbox needs a signed-in operator"
    await page.fill('input[name="name"]', OPERATOR)
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')


async def test_a_wrong_password_is_refused(console: str, page: Page) -> None:
    await _sign_in(page, console, "not the password")
    error = page.locator('[role="alert"]')
    await error.wait_for()
    assert "Wrong name or password" in await error.inner_text()
    assert "/sign-in" in page.url
    assert await page.locator("table.alerts").count() == 0, "no inbox without signing in"
    await _shot(page, "wrong-password")
    answer = await page.request.get(console + "/events", headers={"Accept": "text/event-stream"})
    assert answer.status == 401, "the live feed is closed too"


def _action_by(alert_id: str, operator: str) -> Any:
    def wanted(_key: bytes | None, value: bytes | None) -> bool:
        if value is None:
            return False
        record = orjson.loads(value)
        return bool(record.get("alert_id") == alert_id and record.get("by") == operator)

    return wanted


async def test_an_unanswered_inquiry_appears_live_is_acknowledged_and_leads_to_its_customer(
    after_hours: tuple[EmbeddedBroker, WorkerProcess], console: str, page: Page
) -> None:
    broker, _worker = after_hours
    await _sign_in(page, console, PASSWORD)
    await page.wait_for_selector("table.alerts")
    assert await page.inner_text("#operator") == OPERATOR
    await page.wait_for_selector("#live:not([hidden])")  # following the feed
    await page.evaluate("window.__sameDocument = true")

    customer = f"console-{uuid.uuid4().hex[:8]}"
    await produce(broker.bootstrap, topics.RAW, unanswered_inquiry(customer))
    row = page.locator(f'tr[data-id^="{ALERT_TYPE}/{customer}/"]')
    await row.wait_for(timeout=90_000)
    assert await page.evaluate("window.__sameDocument") is True, "the alert arrived without a reload"
    alert_id = await row.get_attribute("data-id")
    assert alert_id is not None
    assert await row.get_attribute("data-status") == "open"
    # Purchase intent after hours from a new customer: a warning (critical is for best or top-tier customers).
    assert "warning" in await row.locator(".badge").inner_text()
    assert "discount" in await row.locator(".summary").inner_text()
    warnings = int(await page.locator('.count[data-severity="warning"] strong').inner_text())
    assert warnings >= 1
    await _shot(page, "inbox-alert-arrived")

    await row.locator('button[data-action="acknowledge"]').click()
    acknowledged = page.locator(f'tr[data-id="{alert_id}"][data-status="acknowledged"]')
    await acknowledged.wait_for(timeout=60_000)
    assert f"by {OPERATOR}" in await acknowledged.locator(".status").inner_text()
    assert await page.evaluate("window.__sameDocument") is True
    await _shot(page, "inbox-acknowledged")

    # The action went to alerts.actions as the signed-in operator, and the worker republished the alert.
    [(_key, action)] = await collect(
        broker.bootstrap, topics.ACTIONS, _action_by(alert_id, OPERATOR), count=1
    )
    assert orjson.loads(action)["action"] == "acknowledge"
    history = await collect(
        broker.bootstrap,
        topics.alert_topic(ALERT_TYPE),
        lambda _k, v: orjson.loads(v)["alert_id"] == alert_id,
        count=2,
    )
    assert [orjson.loads(v)["status"] for _, v in history] == ["open", "acknowledged"]
    assert orjson.loads(history[-1][1])["status_changed_by"] == OPERATOR

    await acknowledged.locator("a.customer-link").click()
    await page.wait_for_selector("h1.customer-id")
    assert await page.inner_text("h1.customer-id") == customer
    assert "prospect" in await page.inner_text("#stage")
    assert await page.inner_text("#value-tier") == "bronze"
    assert await page.locator("#p-alive").count() == 1
    assert "conv-1" in await page.inner_text("#open-inquiries")
    touchpoints = await page.locator("table.touchpoints tbody tr").all_inner_texts()
    assert any("inquiry" in row and "topic=discount" in row for row in touchpoints), touchpoints
    assert any("page view" in row for row in touchpoints), touchpoints
    customer_row = page.locator(f'table.alerts tr[data-id="{alert_id}"]')
    assert await customer_row.get_attribute("data-status") == "acknowledged"
    assert f"acknowledged by {OPERATOR}" in await customer_row.locator(".history").inner_text()
    await _shot(page, "customer")
