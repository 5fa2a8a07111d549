"""The CardDAV operations measured, identical for both servers."""

from __future__ import annotations

import random
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import httpx

from .cards import new_card

NS = {"D": "DAV:"}
PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)
MULTIGET = (
    '<?xml version="1.0"?><C:addressbook-multiget xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>'
    "{hrefs}</C:addressbook-multiget>"
)
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def timed(action: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


class Dav:
    """One CardDAV server's address book, as a client that keeps its connection open."""

    def __init__(self, url: str, user: str, password: str, book: str) -> None:
        self.http = httpx.Client(base_url=url, auth=(user, password), timeout=600)
        self.book = f"/{user}/{book}/"
        self.auth = (user, password)
        self.url = url

    def _ok(self, response: httpx.Response, *statuses: int) -> httpx.Response:
        if response.status_code not in statuses:
            raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code}")
        return response

    def propfind(self) -> dict[str, str]:
        """href -> etag of every card (PROPFIND Depth 1, getetag)."""
        response = self._ok(
            self.http.request("PROPFIND", self.book, headers={"Depth": "1"}, content=PROPFIND),
            207,
        )
        tree = ET.fromstring(response.content)
        found = {}
        for r in tree.findall("D:response", NS):
            href = r.findtext("D:href", namespaces=NS) or ""
            etag = r.findtext(".//D:getetag", namespaces=NS)
            if href.endswith(".vcf") and etag:
                found[href] = etag
        return found

    def multiget(self, hrefs: list[str], batch: int = 100) -> int:
        size = 0
        for i in range(0, len(hrefs), batch):
            body = MULTIGET.format(
                hrefs="".join(f"<D:href>{h}</D:href>" for h in hrefs[i : i + batch])
            )
            response = self.http.request("REPORT", self.book, headers={"Depth": "1"}, content=body)
            size += len(self._ok(response, 207).content)
        return size

    def sync(self, token: str = "") -> tuple[str, int]:
        response = self._ok(
            self.http.request(
                "REPORT", self.book, headers={"Depth": "1"}, content=SYNC.format(token=token)
            ),
            207,
        )
        tree = ET.fromstring(response.content)
        return tree.findtext("D:sync-token", namespaces=NS) or "", len(
            tree.findall("D:response", NS)
        )

    def etag(self, href: str) -> str:
        return self._ok(self.http.head(href), 200).headers["ETag"]

    def get(self, href: str) -> str:
        return self._ok(self.http.get(href), 200).text

    def put_new(self, name: str, client: httpx.Client | None = None) -> None:
        http = client or self.http
        self._ok(
            http.put(
                f"{self.book}{name}.vcf",
                content=new_card(name, name).encode(),
                headers={"If-None-Match": "*", "Content-Type": "text/vcard"},
            ),
            201,
        )

    def put_update(self, href: str, etag: str, text: str) -> str:
        response = self._ok(
            self.http.put(href, content=text.encode(), headers={"If-Match": etag}), 204
        )
        return response.headers.get("ETag", "")

    def concurrent_puts(self, prefix: str, clients: int = 8, each: int = 5) -> list[float]:
        """``clients`` threads, each with its own connection, PUT ``each`` new cards."""
        latencies: list[float] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            with httpx.Client(base_url=self.url, auth=self.auth, timeout=600) as http:
                for i in range(each):
                    try:
                        took = timed(self.put_new, f"{prefix}-{n}-{i}", http)
                    except BaseException as exc:
                        errors.append(exc)
                        return
                    with lock:
                        latencies.append(took)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return latencies

    def random_gets(self, hrefs: list[str], count: int, rng: random.Random) -> None:
        for href in rng.sample(hrefs, min(count, len(hrefs))):
            self.get(href)

    def close(self) -> None:
        self.http.close()
