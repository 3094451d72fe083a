"""The Dashboard in a real headless Chromium, as an operator uses it (issue 15).

Sign in with the admin secret, create a global webhook (a validation error first), attach it to the seed
API's RatelimitExceeded with no cooldown, watch the live events while three requests hit the API (the
third answers 429), see the webhook arrive at a real receiver, find it in the delivery log and resend it
(the same `webhook-id` arrives again), sign out. A second test covers the rest of the pages' contract: a
webhook's test event and deletion, a handler detached. Every page is screenshotted (the names
docs/dashboard.md shows) and checked with axe-core. Every wait is bounded (WAIT s); a missing element
fails naming the contract point it breaks.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlparse

import httpx
import pytest
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.axe import audit
from tests.browser.conftest import API_ID, LISTEN_PATH, TEST_SECRET, WAIT, Stack, shoot

NAV = (
    "/dashboard/webhooks",
    "/dashboard/apis",
    "/dashboard/events",
    "/dashboard/deliveries",
    "/dashboard/preview",
)
HOOK_NAME = "ops-alerts"

# Counts the EventSources the page opens (before any of its scripts run), so the test fires its requests
# only once the live view listens: no race, no sleep.
SSE_PROBE = """
(() => {
  const Original = window.EventSource;
  if (!Original || Original.__probed) return;
  window.__sse = [];
  class Probed extends Original {
    constructor(url, init) {
      super(url, init);
      const entry = {url: String(url), open: false};
      window.__sse.push(entry);
      this.addEventListener("open", () => { entry.open = true; });
    }
  }
  Probed.__probed = true;
  window.EventSource = Probed;
})();
"""


def path_of(browser: WebDriver) -> str:
    return urlparse(browser.current_url).path.rstrip("/") or "/"


def arrive(browser: WebDriver, path: str, why: str) -> None:
    try:
        WebDriverWait(browser, WAIT).until(lambda b: path_of(b) == path)
        return
    except TimeoutException:
        pass  # fail outside the handler, so the report shows the contract point, not a stack of chromedriver
    pytest.fail(f"contract: {why}: expected {path}, the browser is at {browser.current_url}", pytrace=False)


def element(browser: WebDriver, css: str, what: str, *, visible: bool = True) -> WebElement:
    condition = ec.visibility_of_element_located if visible else ec.presence_of_element_located
    try:
        found: WebElement = WebDriverWait(browser, WAIT).until(condition((By.CSS_SELECTOR, css)))
        return found
    except TimeoutException:
        pass
    pytest.fail(
        f"contract: {what} (`{css}`) not {'shown' if visible else 'present'} on {browser.current_url} "
        f"within {WAIT:g} s",
        pytrace=False,
    )


def open_page(browser: WebDriver, stack: Stack, path: str) -> None:
    browser.get(stack.url + path)
    arrive(browser, path, f"GET {path} while signed in")


def fill(field: WebElement, value: str) -> None:
    field.clear()
    field.send_keys(value)


def check_signed_in_chrome(browser: WebDriver, page: str) -> None:
    """Every signed-in page links the four sections and has the sign-out button."""
    hrefs = {
        urlparse(a.get_attribute("href") or "").path.rstrip("/")
        for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")
    }
    missing = [p for p in NAV if p not in hrefs]
    assert not missing, f"contract: the {page} page has no nav link to {missing}"
    element(browser, "#sign-out", f"the sign-out button on the {page} page")


def test_the_browser_reaches_the_gateway(driver: WebDriver, stack: Stack) -> None:
    """The infrastructure alone: Debian's Chromium, through chromedriver, loads a page the gateway serves."""
    driver.get(stack.url + "/hello")
    assert '"status"' in element(driver, "body", "the /hello answer").text


def sign_in(driver: WebDriver, stack: Stack, *, wrong_first: bool = False) -> None:
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # whatever an earlier test left
    driver.get(stack.url + "/dashboard/login")
    arrive(driver, "/dashboard/login", "GET /dashboard/login serves the sign-in form")
    if wrong_first:
        fill(element(driver, "input#secret[name=secret]", "the secret field"), "not-the-secret")
        element(driver, "#sign-in", "the sign-in button").click()
        element(driver, "#login-error", "the message for a wrong secret")
        shoot(driver, "login")
        audit(driver, "login")
    fill(element(driver, "input#secret[name=secret]", "the secret field"), TEST_SECRET)
    element(driver, "#sign-in", "the sign-in button").click()
    arrive(driver, "/dashboard/webhooks", "signing in lands on the webhooks page")
    session = [c for c in driver.get_cookies() if c.get("httpOnly") and c.get("sameSite") == "Strict"]
    assert session, f"no HttpOnly, SameSite=Strict session cookie after signing in: {driver.get_cookies()}"


def webhook_row(driver: WebDriver, name: str) -> WebElement | None:
    rows = [
        row
        for row in driver.find_elements(By.CSS_SELECTOR, "table#webhooks tr[data-webhook-id]")
        if name in row.text
    ]
    assert len(rows) <= 1, f"{len(rows)} rows named {name!r}"
    return rows[0] if rows else None


def create_webhook(driver: WebDriver, stack: Stack, name: str, *, invalid_first: bool = False) -> str:
    """Create a webhook through the form (an invalid target first, if asked); return its id."""
    open_page(driver, stack, "/dashboard/webhooks")
    element(driver, "table#webhooks", "the webhooks table", visible=False)
    check_signed_in_chrome(driver, "webhooks")
    element(driver, "#new-webhook", "the new-webhook link").click()
    arrive(driver, "/dashboard/webhooks/new", "#new-webhook leads to the form")

    def submit(target: str) -> None:
        fill(element(driver, "[name=name]", "the webhook form's name field"), name)
        Select(element(driver, "select[name=method]", "the method select")).select_by_value("POST")
        fill(element(driver, "[name=target_path]", "the target_path field"), target)
        fill(element(driver, "[name=event_timeout]", "the event_timeout field"), "0")
        element(driver, "textarea[name=headers]", "the headers textarea")
        save = element(driver, "#save", "the save button")
        # The server's validation is under test, not the browser's (a type=url field would stop it).
        driver.execute_script("if (arguments[0].form) arguments[0].form.noValidate = true;", save)
        save.click()
        # While the next page replaces this one, chromedriver can answer "node does not belong to the
        # document" instead of "stale element": asked again, it says stale.
        WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(ec.staleness_of(save))

    if invalid_first:
        submit("not a url")
        element(driver, 'p.field-error[data-field="target_path"]', "the inline error naming target_path")
        shoot(driver, "webhook-form")
        audit(driver, "webhook form")

    submit(stack.hook_url)
    if path_of(driver) != "/dashboard/webhooks":
        open_page(driver, stack, "/dashboard/webhooks")
    row = webhook_row(driver, name)
    assert row is not None, f"contract: no row `tr[data-webhook-id]` named {name!r} after saving"
    webhook_id = row.get_attribute("data-webhook-id")
    assert webhook_id
    return webhook_id


def open_api(driver: WebDriver, stack: Stack) -> None:
    open_page(driver, stack, "/dashboard/apis")
    check_signed_in_chrome(driver, "apis")
    row = element(driver, f'table#apis tr[data-api-id="{API_ID}"]', "the seed API's row")
    row.find_element(By.CSS_SELECTOR, f'a[href$="/dashboard/apis/{API_ID}"]').click()
    arrive(driver, f"/dashboard/apis/{API_ID}", "the API's row links to its page")
    element(driver, "table#handlers", "the API's handlers table", visible=False)


def attach(driver: WebDriver, webhook_id: str, event: str) -> WebElement:
    """On the API's page, attach the webhook to `event` with no cooldown; return the handler's row."""
    form = element(driver, "form#attach", "the attach form")
    Select(form.find_element(By.CSS_SELECTOR, "select[name=event]")).select_by_value(event)
    Select(form.find_element(By.CSS_SELECTOR, "select[name=webhook_id]")).select_by_value(webhook_id)
    fill(form.find_element(By.CSS_SELECTOR, "input[name=cooldown]"), "0")
    element(driver, "#attach-submit", "the attach button").click()
    return element(driver, f'#handlers tr[data-event="{event}"]', f"the attached {event} handler's row")


def live_event(driver: WebDriver, stack: Stack) -> None:
    open_page(driver, stack, "/dashboard/events")
    check_signed_in_chrome(driver, "events")
    element(driver, "select[name=api_id]", "the API filter", visible=False)
    element(driver, "select[name=event]", "the event filter", visible=False)
    element(driver, "ul#events", "the live events list", visible=False)
    element(driver, "#health", "the health panel", visible=False)
    try:
        opened = WebDriverWait(driver, WAIT).until(
            lambda b: b.execute_script(
                "return (window.__sse || []).some(s => s.open && s.url.includes('/dashboard/events/stream'))"
            )
        )
    except TimeoutException:
        opened = driver.execute_script("return window.__sse || []")
    if opened is not True:
        pytest.fail(
            f"contract: no open EventSource on /dashboard/events/stream (opened: {opened})", pytrace=False
        )
    with httpx.Client(base_url=stack.url, timeout=WAIT) as client:
        codes = [client.get(f"{LISTEN_PATH}get").status_code for _ in range(3)]
    assert codes == [200, 200, 429], codes
    element(
        driver,
        f'#events li.event[data-event="RatelimitExceeded"][data-api-id="{API_ID}"]',
        "the RatelimitExceeded event, live",
    )
    shoot(driver, "events")
    audit(driver, "events")


def resend(driver: WebDriver, stack: Stack) -> None:
    (first,) = stack.deliveries(1)
    assert first.path == "/webhook" and first.json()["event"] == "RatelimitExceeded", first
    webhook_id = first.headers["webhook-id"]
    stack.run(stack.gateway.idle())  # the attempt is finished, so the delivery log has it
    open_page(driver, stack, "/dashboard/deliveries")
    check_signed_in_chrome(driver, "deliveries")
    element(driver, "table#deliveries tr.delivery[data-delivery-id][data-status]", "a delivery row")
    rows = driver.find_elements(By.CSS_SELECTOR, "table#deliveries tr.delivery")
    assert len(rows) == 1, f"one delivery happened, the log shows {len(rows)}"
    shoot(driver, "deliveries")
    audit(driver, "deliveries")
    rows[0].find_element(By.CSS_SELECTOR, "button.resend").click()
    element(driver, "#flash", "the flash message after a resend")
    again = stack.deliveries(2)[1]
    assert again.headers["webhook-id"] == webhook_id, (webhook_id, again.headers)
    assert again.body == first.body


def sign_out(driver: WebDriver, stack: Stack) -> None:
    element(driver, "#sign-out", "the sign-out button").click()
    arrive(driver, "/dashboard/login", "signing out shows the sign-in page")
    driver.get(stack.url + "/dashboard/webhooks")
    arrive(driver, "/dashboard/login", "a signed-out GET /dashboard/webhooks redirects to the sign-in page")


def test_operator_scenario(driver: WebDriver, stack: Stack) -> None:
    """Issue 15's scenario, with a screenshot and an axe check of every page."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SSE_PROBE})
    sign_in(driver, stack, wrong_first=True)
    webhook_id = create_webhook(driver, stack, HOOK_NAME, invalid_first=True)
    shoot(driver, "webhooks")
    audit(driver, "webhooks")

    open_page(driver, stack, "/dashboard/apis")
    element(driver, f'table#apis tr[data-api-id="{API_ID}"]', "the seed API's row")
    shoot(driver, "apis")
    audit(driver, "apis")
    open_api(driver, stack)
    attach(driver, webhook_id, "RatelimitExceeded").find_element(By.CSS_SELECTOR, "button.detach")
    check_signed_in_chrome(driver, "API")
    shoot(driver, "api")
    audit(driver, "API")

    live_event(driver, stack)
    resend(driver, stack)
    sign_out(driver, stack)


def test_test_event_detach_and_delete(driver: WebDriver, stack: Stack) -> None:
    """The rest of the contract: a webhook's edit page sends a test event and deletes it; a handler is
    detached from the API's page."""
    sign_in(driver, stack)
    webhook_id = create_webhook(driver, stack, "team-chat")
    row = webhook_row(driver, "team-chat")
    assert row is not None
    row.find_element(By.CSS_SELECTOR, "a[href]").click()
    button = element(driver, "#test-webhook", "the edit page's test button")
    element(driver, "#delete", "the edit page's delete button")
    edit_path = path_of(driver)
    check_signed_in_chrome(driver, "webhook edit")
    before = len(stack.recorder.deliveries)
    button.click()
    test_event = stack.deliveries(before + 1)[before]
    assert test_event.path == "/webhook", test_event
    element(driver, "#test-result", "the test event's result")  # htmx swaps it in: find it afresh below
    settled = WebDriverWait(
        driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
    )
    assert "200" in settled.until(lambda b: b.find_element(By.CSS_SELECTOR, "#test-result").text.strip())
    result = driver.find_element(By.CSS_SELECTOR, "#test-result")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", result)
    shoot(driver, "webhook-edit")
    audit(driver, "webhook edit")

    open_api(driver, stack)
    attach(driver, webhook_id, "QuotaExceeded").find_element(By.CSS_SELECTOR, "button.detach").click()
    with contextlib.suppress(TimeoutException):  # the assertion below names what is left
        WebDriverWait(driver, WAIT).until(
            lambda b: not b.find_elements(By.CSS_SELECTOR, '#handlers tr[data-event="QuotaExceeded"]')
        )
    detached = not driver.find_elements(By.CSS_SELECTOR, '#handlers tr[data-event="QuotaExceeded"]')
    assert detached, "contract: button.detach leaves the handler's row on the API's page"

    open_page(driver, stack, edit_path)
    element(driver, "#delete", "the edit page's delete button").click()
    arrive(driver, "/dashboard/webhooks", "deleting a webhook returns to the list")
    gone = not driver.find_elements(By.CSS_SELECTOR, f'table#webhooks tr[data-webhook-id="{webhook_id}"]')
    assert gone, f"contract: the deleted webhook {webhook_id!r} is still listed"
    preview_and_failed(driver, stack)
    sign_out(driver, stack)


def preview_and_failed(driver: WebDriver, stack: Stack) -> None:
    """Issue 16's pages: the template preview renders the prefilled default template; the deliveries
    page filtered to failed ones."""
    open_page(driver, stack, "/dashboard/preview")
    check_signed_in_chrome(driver, "template preview")
    Select(element(driver, "select#event", "the preview's event select")).select_by_value("QuotaExceeded")
    element(driver, "#render", "the preview's render button").click()
    rendered = element(driver, "pre#rendered", "the rendered body")
    assert '"event": "QuotaExceeded"' in rendered.text, rendered.text
    audit(driver, "template preview")
    open_page(driver, stack, "/dashboard/deliveries")
    element(driver, "#state-failed", "the failed filter link").click()
    element(driver, "table#deliveries caption", "the deliveries table")
    assert "state=failed" in driver.current_url, driver.current_url
    audit(driver, "failed deliveries")
