"""``/api/docs`` in a real headless browser: Swagger UI, served by the API itself from
its Python package (no CDN), lists every route of ``/api/openapi.json``."""

import re
import shutil
import subprocess
from html import unescape

import httpx

from tests.support import Stack, require

OPERATION = re.compile(r'class="opblock opblock-(\w+)[^"]*".*?data-path="([^"]+)"', re.S)


def rendered(url: str) -> str:
    """The page's DOM once its scripts ran, from Debian's chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    require(
        browser is not None,
        "chromium",
        "is not installed (apt-get install chromium, or run make test as root)",
    )
    done = subprocess.run(
        [str(browser), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--virtual-time-budget=20000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_docs_page_lists_every_route(embedded_stack: Stack) -> None:
    base = embedded_stack.base_url
    page = httpx.get(f"{base}/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Its assets come from this server, none from elsewhere.
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(asset.startswith("/api/docs/static/") for asset in assets), assets
    for asset in assets:
        assert httpx.get(base + asset).status_code == 200, asset

    document = httpx.get(f"{base}/api/openapi.json").json()
    expected = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    dom = rendered(f"{base}/api/docs")
    shown = {(method.upper(), unescape(path)) for method, path in OPERATION.findall(dom)}
    assert document["info"]["title"] in dom
    assert len(expected) > 80  # v1, v2, jobs, bulk, ...
    assert shown == expected, sorted(expected ^ shown)[:20]
