"""Each Space in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright) opens the page, clicks
the main button and waits for the output element; a screenshot of the page is kept as a test artifact in
`$NEUROART_TEST_ARTIFACTS` (default `test-artifacts/`).

Models: the tiny quickstart models, or the folders of a real `neuroart quickstart` run when
`NEUROART_SCREENSHOT_MODELS` points at them (that is how the README screenshot is made:
`NEUROART_SCREENSHOT_MODELS=neuroart-models make test PYTEST_ARGS=tests/test_browser.py`).
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tests.helpers.spaces import load_app, serve

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out

pytest.importorskip("gradio")
CHROMIUM = os.environ.get("NEUROART_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra has it)")

ARTIFACTS = Path(os.environ.get("NEUROART_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

# Space -> (button to click, selector that appears once the output is there)
PAGES = {
    "neuroart-gan": ("#paint", "#gallery img"),
    "neuroart-music": ("#compose", "#audio audio[src]"),
    "neuroart-poetry": ("#write", "#report table"),
    "neuroart-studio": ("#create", "#painting img"),
}


@pytest.fixture(scope="module")
def models(request):
    real = os.environ.get("NEUROART_SCREENSHOT_MODELS")
    return Path(real) if real else request.getfixturevalue("quickstart_models")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        warm = browser.new_page()  # the first page of a fresh profile also builds font caches: keep it out of the
        warm.set_content("<p>春江花月 warm-up</p>")  # timed waits below
        warm.close()
        yield browser
        browser.close()


def click_until(page, button: str, output: str, tries: int = 3, wait_ms: int = 60_000) -> None:
    """Click `button` until `output` appears. A click that lands while the Svelte app is still wiring its event
    handlers is lost without a trace (CI once waited 120 s on a GAN page whose paint function was never called), so a
    click with no output after `wait_ms` is repeated; an error toast from the server fails at once, with its text."""
    for attempt in range(tries):
        page.locator(button).click(timeout=120_000)
        try:
            page.locator(output).first.wait_for(state="attached", timeout=wait_ms * (attempt + 1))
            return
        except sync_api.TimeoutError:
            toasts = page.locator(".toast-body").all_inner_texts()
            if any("error" in t.lower() for t in toasts):
                raise AssertionError(f"the Space answered {button} with an error: {toasts}") from None
    raise AssertionError(f"{output} never appeared after {tries} clicks on {button}")


@pytest.mark.parametrize("name", list(PAGES))
def test_space_in_a_real_browser(name, models, browser):
    button, output = PAGES[name]
    app = load_app(name, models)
    with serve(app) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            click_until(page, button, output)
            if name == "neuroart-studio":
                page.locator("#bundle a").first.wait_for(timeout=60_000)  # the zip is offered for download
                poem = page.locator("#poem textarea").input_value()
                assert "AI-generated" in poem
            if name == "neuroart-poetry":
                assert "AI-generated" in page.locator("#poem textarea").input_value()
            page.wait_for_timeout(500)  # let images finish painting before the screenshot
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"{name}-failed.png"), full_page=True)  # what the page showed
            raise
        finally:
            page.close()
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000


def test_studio_three_themes_side_by_side(models, browser):
    """Three themes in the studio, one after another in one page: each creation shows its own theme's poem; the three
    screenshots side by side are `studio-themes.png` (the README's, made on the releases)."""
    from PIL import Image

    themes = ["秋夜听雨", "春江花月", "sunset over the sea"]
    app = load_app("neuroart-studio", models)
    shots = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve(app) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(url, wait_until="domcontentloaded", timeout=120_000)
            for index, theme in enumerate(themes):
                box = page.locator("#theme textarea, #theme input").first
                box.fill(theme)
                if index == 0:
                    click_until(page, "#create", "#painting img")
                else:
                    page.locator("#create").click(timeout=120_000)
                page.wait_for_function(
                    "theme => { const poem = document.querySelector('#poem textarea');"
                    " return poem && poem.value.startsWith(theme); }", arg=theme, timeout=180_000)
                page.locator("#bundle a").first.wait_for(timeout=60_000)
                page.wait_for_timeout(800)  # the new painting finishes loading
                shots.append(ARTIFACTS / f"studio-theme-{index}.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
        finally:
            page.close()
    images = [Image.open(path).convert("RGB") for path in shots]
    width = sum(image.width for image in images) // 2
    height = max(image.height for image in images) // 2
    side_by_side = Image.new("RGB", (width, height), (255, 255, 255))
    left = 0
    for image in images:
        small = image.resize((image.width // 2, image.height // 2))
        side_by_side.paste(small, (left, 0))
        left += small.width
    side_by_side.save(ARTIFACTS / "studio-themes.png")
    assert (ARTIFACTS / "studio-themes.png").stat().st_size > 20_000
