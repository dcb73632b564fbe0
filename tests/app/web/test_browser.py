"""The page of ``restore serve`` in a real, headless Chromium, against the real server.

One walk through what a user does: pick a photo, change a setting, restore it, follow
the progress, compare before and after, look at the damage mask, download the result.
The browser and its driver come from the system (Debian ``chromium`` and
``chromium-driver``); nothing is downloaded at run time. With ``RESTORE_SCREENSHOTS=1``
the phone and desktop screenshots land in docs/figures/ for the README.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SKIP_REASON = "browser test skipped: install chromium and chromium-driver (apt-get)"
if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
    pytest.skip(SKIP_REASON, allow_module_level=True)
pytest.importorskip("selenium", reason="browser test skipped: pip install selenium")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]
FIGURES = REPO / "docs" / "figures"
PHONE_WIDTH, DESKTOP_WIDTH = 390, 1280
RESULT_TIMEOUT_S = 60
START_TIMEOUT_S = 90

PIPELINE = """\
name: old-photo-lite
description: Finds dust and scratches, fills them in, then sharpens the photo a little.
nodes:
  - id: damage
    uses: inpaint.damage_mask
    params: {size: 7, threshold: 0.12, texture: 3}   # spares eyes and fine detail
  - id: inpaint
    uses: inpaint.opencv
    inputs: {image: input, mask: damage.mask}
  - id: sharpen
    uses: sharpen.unsharp
    params: {strength: 0.8, radius: 1.5}
outputs:
  - node: sharpen
  - node: damage
    port: mask
    suffix: .mask
"""


def old_photo(path: Path) -> tuple[int, int]:
    """Write a sepia, scratched and dusty portrait (scikit-image's bundled astronaut)."""
    from skimage import data, transform

    rgb = transform.resize(data.astronaut(), (360, 360), anti_aliasing=True)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    sepia = np.stack([luma * 1.07 + 0.05, luma * 0.95 + 0.03, luma * 0.75], axis=-1)
    faded = 0.15 + 0.75 * np.clip(sepia, 0, 1)
    rng = np.random.default_rng(7)
    height, width = faded.shape[:2]
    for x0, x1 in ((60, 95), (185, 150), (290, 320)):  # thin bright scratches, top to bottom
        for y in range(height):
            x = x0 + (x1 - x0) * y // height
            faded[y, x] = 0.95
    for _ in range(70):  # dust specks: dark on light parts, light on dark ones
        y, x = rng.integers(2, height - 2), rng.integers(2, width - 2)
        faded[y - 1 : y + 2, x - 1 : x + 1] = 0.08 if faded[y, x].mean() > 0.45 else 0.92
    Image.fromarray((np.clip(faded, 0, 1) * 255).astype(np.uint8)).save(path)
    return width, height


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def restore_command() -> list[str]:
    beside = Path(sys.executable).with_name("restore")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("restore")
    return [found] if found else [sys.executable, "-m", "restore.app.cli.main"]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real ``restore serve`` on a free local port, one worker, a cheap classical pipeline."""
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "old-photo-lite.yaml").write_text(PIPELINE)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    command = [
        *restore_command(),
        *("serve", "--host", "127.0.0.1", "--port", str(port)),
        *("--data", str(tmp_path / "data"), "--pipelines", str(pipelines), "--workers", "1"),
    ]
    env = {key: value for key, value in os.environ.items() if key != "RESTORE_TOKEN"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`restore serve` did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless system Chromium; explicit paths, so Selenium Manager never runs."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        f"--window-size={DESKTOP_WIDTH},900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()


def until(
    driver: webdriver.Chrome, what: str, condition: Callable[[Any], T], timeout: float = 15
) -> T:
    """Wait for ``condition`` to turn truthy; fail saying ``what`` did not happen."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, what)


def script_errors(driver: webdriver.Chrome) -> list[str]:
    """The JavaScript errors the page logged so far (not failed requests: the test makes one)."""
    logs: list[dict[str, Any]] = driver.get_log("browser")
    return [entry["message"] for entry in logs if entry.get("source") == "javascript"]


def loaded(image: WebElement) -> bool:
    """Whether an <img> has finished loading a picture it could decode."""
    return bool(image.get_property("complete")) and bool(image.get_property("naturalWidth"))


def emulate(driver: webdriver.Chrome, width: int, height: int, scale: float = 1) -> None:
    """Show the page at ``width`` x ``height`` CSS pixels (under 600 wide: as a phone)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": scale}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "mobile": width < 600})
    time.sleep(0.3)


def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """What the emulated screen shows now, as a PNG file."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    path.write_bytes(base64.b64decode(shot["data"]))


def test_restore_a_photo_in_the_browser(
    server: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    photo = tmp_path / "grandma-1952.png"
    size = old_photo(photo)
    driver = browser
    driver.get(server + "/")
    try:
        until(
            driver,
            "the page did not start",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        )
    except TimeoutException:
        pytest.fail(f"the page did not start: {script_errors(driver)}")
    assert driver.find_element(By.ID, "form-error").get_attribute("hidden") is not None

    # The pipeline list and the controls generated from each node's JSON Schema.
    Select(driver.find_element(By.ID, "pipeline")).select_by_value("old-photo-lite")
    strength = driver.find_element(By.ID, "ctl-sharpen-strength")
    assert strength.get_attribute("type") == "range"
    assert driver.find_element(By.ID, "ctl-damage-threshold").get_attribute("type") == "range"
    assert driver.find_element(By.ID, "ctl-inpaint-method").tag_name == "select"
    for control in driver.find_elements(By.CSS_SELECTOR, "#job-form input, #job-form select"):
        control_id = control.get_attribute("id")
        labels = driver.find_elements(By.CSS_SELECTOR, f'label[for="{control_id}"]')
        assert labels, f"control {control_id!r} has no <label>"
    mp_options = Select(driver.find_element(By.ID, "max-mp")).options
    assert mp_options[0].text == "Original resolution"

    # A file that is not an image: the server's refusal shows, in words.
    fake = tmp_path / "notes.png"
    fake.write_text("not a photo\n")
    file_input = driver.find_element(By.ID, "file")
    file_input.send_keys(str(fake))
    driver.find_element(By.ID, "submit").click()
    error = driver.find_element(By.ID, "form-error")
    until(driver, "no message for a file that is not an image", lambda d: error.is_displayed())
    assert "not an image" in error.text, error.text

    # Pick the photo and turn the sharpening up a little, from the keyboard.
    file_input.clear()
    file_input.send_keys(str(photo))
    until(driver, "no preview of the photo", lambda d: loaded(d.find_element(By.ID, "preview")))
    before_value = float(strength.get_attribute("value") or 0)
    for _ in range(4):
        strength.send_keys(Keys.ARROW_RIGHT)
    after_value = float(strength.get_attribute("value") or 0)
    assert after_value > before_value

    # Record what the page sends and every status line it shows, then submit.
    driver.execute_script(
        """
        window.sentParams = [];
        const send = window.fetch;
        window.fetch = (url, init) => {
          if (init && init.body instanceof FormData) {
            window.sentParams.push(init.body.get("params"));
          }
          return send(url, init);
        };
        window.statusLines = [];
        new MutationObserver(() => window.statusLines.push(
          document.getElementById("status").textContent
        )).observe(document.getElementById("status"), {childList: true, characterData: true,
                                                        subtree: true});
        """
    )
    driver.find_element(By.ID, "submit").click()
    until(
        driver,
        "no result within the time limit",
        lambda d: (
            d.find_element(By.ID, "viewer").is_displayed()
            or d.find_element(By.ID, "form-error").is_displayed()
        ),
        RESULT_TIMEOUT_S,
    )
    assert not error.is_displayed(), error.text
    sent = driver.execute_script("return window.sentParams")
    assert [json.loads(p) for p in sent] == [{"sharpen": {"strength": after_value}}]  # changes only
    lines: list[str] = driver.execute_script("return window.statusLines")
    assert any(line.startswith(("Waiting", "Working", "Uploading")) for line in lines), lines
    assert "restored" in driver.find_element(By.ID, "status").text

    # Before / after: both images load; the split moves from the keyboard.
    before, after = (
        driver.find_element(By.ID, "before-img"),
        driver.find_element(By.ID, "after-img"),
    )
    until(driver, "the comparison images did not load", lambda d: loaded(before) and loaded(after))
    clip = before.value_of_css_property("clip-path")
    split = driver.find_element(By.ID, "split")
    for _ in range(20):
        split.send_keys(Keys.ARROW_RIGHT)
    assert split.get_attribute("value") == "70"
    moved = before.value_of_css_property("clip-path")
    assert moved != clip and "30%" in moved, (clip, moved)
    assert split.get_attribute("aria-valuetext") == "70 % original"
    split.send_keys(Keys.HOME)
    assert split.get_attribute("value") == "0"
    for _ in range(50):
        split.send_keys(Keys.ARROW_RIGHT)

    # The damage mask view (the pipeline writes a mask).
    driver.find_element(By.CSS_SELECTOR, 'label[for="view-mask"]').click()
    mask = driver.find_element(By.ID, "mask-img")
    until(driver, "the damage mask did not load", lambda d: loaded(mask))
    assert not driver.find_element(By.ID, "compare").is_displayed()
    driver.find_element(By.CSS_SELECTOR, 'label[for="view-compare"]').click()
    assert driver.find_element(By.ID, "compare").is_displayed()

    # Recent photos lists this one.
    until(
        driver,
        "the job is not among the recent photos",
        lambda d: photo.name in d.find_element(By.ID, "recent").text,
    )

    # Download: the file the server names, an image of the photo's size.
    downloads = tmp_path / "downloads"
    link = driver.find_element(By.ID, "download")
    assert link.get_attribute("download") is not None
    link.click()

    def downloaded(_: object) -> list[Path]:
        return [p for p in downloads.iterdir() if not p.name.endswith(".crdownload")]

    (result_file,) = until(driver, "the download did not arrive", downloaded, 30)
    assert result_file.name.startswith(photo.stem), result_file.name
    with Image.open(result_file) as result:
        assert result.size == size

    # Nothing but this server was asked for anything.
    origins = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert origins, "no resource entries recorded"
    strangers = [u for u in origins if not u.startswith((server + "/", "blob:", "data:"))]
    assert not strangers, strangers

    errors = script_errors(driver)
    assert not errors, errors

    # Desktop and phone layouts; a phone never scrolls sideways.
    out = FIGURES if os.environ.get("RESTORE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    emulate(driver, DESKTOP_WIDTH, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    emulate(driver, DESKTOP_WIDTH, int(height))  # the whole page
    screenshot(driver, out / "web-desktop.png")
    emulate(driver, PHONE_WIDTH, 844, scale=2)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH + 2, f"the page scrolls sideways at {PHONE_WIDTH} px: {width}"
    driver.execute_script("document.getElementById('result-panel').scrollIntoView()")
    driver.execute_script("window.scrollBy(0, -12)")
    time.sleep(0.2)
    screenshot(driver, out / "web-phone.png")  # what a phone shows once the photo is done
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
