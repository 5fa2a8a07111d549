"""Issue 24 through ``aurinko-bridge serve`` as a real process: the 2.1 and version-less cards
of fixtures/vcards (the issue's card among them) are PUT, then read by GET and by a
sync-collection REPORT in 3.0 (their served version) and 4.0; every property and TYPE value of
each input is on every answer (tests/mapping/kept.py). A 4.0 card with properties 3.0 lacks is
read as 3.0 by a 3.0 client, written back as that client would, and read as 4.0 again: it has
every property it was first written with."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from bridge.htpasswd import set_password
from bridge.mapping import from_vcard
from bridge.mapping.card import read_card
from bridge.sandbox import SandboxApp
from tests.cli.serving import serving
from tests.conftest import TOKEN
from tests.mapping.kept import lost

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "vcards"
CONVERTED = sorted(
    p
    for p in ROOT.glob("*/*.vcf")
    if ".served-" not in p.name and from_vcard(p.read_bytes()).version == "2.1"
)
ROUND_TRIP = [ROOT / "nextcloud" / f"{n}-4.0.vcf" for n in ("altid-language", "gender-lang")]
ROUND_TRIP += [ROOT / "nextcloud" / "kind-org-4.0.vcf", ROOT / "davx5" / "anniversary-4.0.vcf"]
NS = {"D": "DAV:", "CR": "urn:ietf:params:xml:ns:carddav"}
BOOK = "/alice/work/"


@pytest.fixture
def config(sandbox_app: SandboxApp, live_sandbox: str, tmp_path: Path) -> Path:
    (tmp_path / "work.token").write_text(TOKEN + "\n")
    (tmp_path / "work.token").chmod(0o600)
    set_password(tmp_path / "users.htpasswd", "alice", "alice-pw", rounds=4)
    path = tmp_path / "bridge.toml"
    path.write_text(
        '[server]\ndata_dir = "var"\nhtpasswd = "users.htpasswd"\n\n'
        f'[[accounts]]\nname = "work"\nuser = "alice"\nbase_url = "{live_sandbox}"\n'
        'token_file = "work.token"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def with_uid(text: str, uid: str) -> str:
    """A CardDAV client's card has a UID (Radicale refuses one without)."""
    if any(line.key == "UID" for line in read_card(text).lines):
        return text
    return text.replace("\nEND:VCARD", f"\nUID:{uid}\nEND:VCARD", 1)


def get(client: httpx.Client, href: str, version: str) -> httpx.Response:
    got = client.get(href, headers={"Accept": f"text/vcard; version={version}"})
    assert got.status_code == 200, got.text
    return got


def synced(client: httpx.Client, version: str) -> dict[str, str]:
    """href -> card of a sync-collection REPORT from the start, in ``version``."""
    body = (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"'
        ' xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:sync-token/>'
        "<D:sync-level>1</D:sync-level><D:prop><D:getetag/>"
        f'<CR:address-data content-type="text/vcard" version="{version}"/></D:prop>'
        "</D:sync-collection>"
    )
    answer = client.request("REPORT", BOOK, content=body, headers={"Depth": "1"})
    assert answer.status_code == 207, answer.text
    return {
        r.findtext("D:href", namespaces=NS) or "": r.findtext(".//CR:address-data", namespaces=NS)
        or ""
        for r in ET.fromstring(answer.content).findall("D:response", NS)
    }


def test_converted_cards_keep_every_type_through_serve(config: Path) -> None:
    assert {p.stem for p in CONVERTED} >= {"eds-custom-1", "eds-custom-3", "mtk-pbap-21"}
    with (
        serving(config) as url,
        httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client,
    ):
        sent: dict[str, str] = {}
        for source in CONVERTED:
            text = with_uid(from_vcard(source.read_bytes()).shadow, f"i24-{source.stem}")
            href = f"{BOOK}{source.parent.name}-{source.stem}.vcf"
            put = client.put(
                href, content=text.encode("utf-8"), headers={"Content-Type": "text/vcard"}
            )
            assert put.status_code == 201, (source.name, put.text)
            sent[href] = text
        for version in ("3.0", "4.0"):
            listed = synced(client, version)
            for href, text in sent.items():
                served = get(client, href, version).text
                assert served.startswith(f"BEGIN:VCARD\r\nVERSION:{version}\r\n")
                assert lost(text, served) == [], (href, version)
                assert lost(text, listed[href]) == [], (href, version, "sync-collection")


def test_40_card_written_back_by_a_30_client_comes_back_as_40(config: Path) -> None:
    with (
        serving(config) as url,
        httpx.Client(base_url=url, auth=("alice", "alice-pw"), timeout=30) as client,
    ):
        for source in ROUND_TRIP:
            text = from_vcard(source.read_bytes()).shadow
            href = f"{BOOK}{source.stem}.vcf"
            put = client.put(href, content=text.encode(), headers={"Content-Type": "text/vcard"})
            assert put.status_code == 201, put.text
            as_30 = get(client, href, "3.0")
            names = [line.key for line in read_card(as_30.text).lines]
            assert names.count("N") <= 1 and names.count("FN") == 1, names
            assert not {"KIND", "GENDER", "LANG", "ANNIVERSARY"} & set(names), names
            back = client.put(
                href,
                content=as_30.text.encode(),
                headers={"Content-Type": "text/vcard", "If-Match": as_30.headers["ETag"]},
            )
            assert back.status_code in (201, 204), back.text
            assert lost(text, get(client, href, "4.0").text) == [], source.name
            assert lost(text, synced(client, "4.0")[href]) == [], source.name
