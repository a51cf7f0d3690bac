"""Webhook host rules (congress.contract.hosts): every spelling of a refused address is refused,
at registration and at connection time, and only the setting's networks are let through.
No test here lets a request go out; names resolve through a resolver the test controls."""

from __future__ import annotations

import ipaddress
import re

import pytest

from congress.contract import hosts
from congress.contract.api import SectionContactsUpdate, SectionRegistration, WebhookRegistration, load
from congress.errors import InvalidInput


def resolver(answers: dict[str, list[str]]) -> hosts.Resolver:
    def resolve(host: str, port: int) -> list[hosts.IPAddress]:
        if host not in answers:
            raise OSError(f"{host}: name or service not known")
        return [ipaddress.ip_address(a) for a in answers[host]]

    return resolve


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on (or reaches) real DNS, and none inherits the caller's allow-list."""
    monkeypatch.setattr(hosts, "resolve", resolver({}))
    monkeypatch.delenv(hosts.ALLOW_SETTING, raising=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
        ("http://127.8.9.10:8080/x", "loopback"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://172.16.5.4/", "private"),
        ("http://172.31.255.255/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fe80::1%25eth0]/", "link-local"),
        ("http://[fc00::1]/", "unique local"),
        ("http://[fd12:3456::1]/", "unique local"),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://[::]/", ":: is an unspecified address"),
        ("http://224.0.0.1/", "multicast"),
        ("http://239.255.255.250/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://100.127.255.254/", "carrier-grade NAT"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("http://192.0.2.1/", "documentation"),
        # The same addresses, spelled otherwise.
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://127.0.0.1./", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("http://2852039166/", "169.254.169.254"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:a9fe:a9fe]/", "169.254.169.254"),
        ("http://[::ffff:10.0.0.1]/", "10.0.0.1 is a private address"),
        ("http://[2002:7f00:1::]/", "127.0.0.1"),  # 6to4
        ("http://[64:ff9b::a00:1]/", "10.0.0.1"),  # NAT64
        ("http://[::127.0.0.1]/", "IPv4-compatible"),
        ("http://localhost/", "loopback"),
        ("http://api.localhost:8000/", "loopback"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata host"),
        ("HTTP://LOCALHOST/", "loopback"),
    ],
)
def test_refused_addresses_in_every_spelling(url: str, reason: str) -> None:
    with pytest.raises(hosts.HostRefused, match=re.escape(reason)):
        hosts.check_url(url, allowed=())
    with pytest.raises(hosts.HostRefused):
        hosts.addresses_to_connect(url, allowed=())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.org/", "only http and https"),
        ("http://user:secret@example.org/", "credentials"),
        ("http://user@example.org/", "credentials"),
        ("http://@example.org/", "credentials"),
        ("http:///path-only", "no host"),
        ("http://example.org:0/", "port 0"),
        ("http://example.org:99999/", "not a valid URL"),
        ("http://1.2.3.4.5/", "not a valid IPv4 address"),
        ("http://256.0.0.1/", "not a valid IPv4 address"),
        ("http://0x100000000/", "not a valid IPv4 address"),
        ("http://09.1.1.1/", "not a valid IPv4 address"),
        ("http://example.123/", "not a valid IPv4 address"),
        ("http://[::gg]/", "not a valid URL|not a valid IPv6"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org\\@127.0.0.1/", "backslashes"),
        ("http://under_score.example/", "not a valid host name"),
        ("http://" + "a" * 64 + ".example/", "not a valid host name"),
    ],
)
def test_urls_that_are_not_plain_http_targets_are_refused(url: str, reason: str) -> None:
    with pytest.raises(hosts.HostRefused, match=reason):
        hosts.check_url(url, allowed=())


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/hook",
        "http://8.8.8.8/x",
        "http://[2606:4700::1111]/",
        "http://0x08080808/",
        "https://EXAMPLE.org",
    ],
)
def test_public_targets_are_accepted(url: str) -> None:
    where = hosts.check_url(url, allowed=())
    assert where.scheme in ("http", "https") and where.host == where.host.lower()


def test_the_target_names_the_host_as_connected_to_and_its_default_port() -> None:
    assert hosts.target("https://Hooks.Example.org/x") == hosts.Target("https", "hooks.example.org", 443, None)
    assert hosts.target("http://[::1]:8080/").host == "::1"
    assert hosts.target("http://0x7f.1/").address == ipaddress.ip_address("127.0.0.1")
    assert hosts.target("http://bücher.example/").host == "xn--bcher-kva.example"


def test_an_allowed_private_network_is_reachable_and_nothing_else_is() -> None:
    allowed = hosts.parse_networks("127.0.0.0/8, 10.0.0.0/8")

    for url in ("http://127.0.0.1:9/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://10.9.8.7/"):
        hosts.check_url(url, allowed=allowed)
    for url in ("http://192.168.0.1/", "http://[::1]/", "http://172.16.0.1/"):
        with pytest.raises(hosts.HostRefused, match="WEBHOOK_ALLOW_PRIVATE_NETWORKS"):
            hosts.check_url(url, allowed=allowed)


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://0.0.0.0/"])
def test_metadata_and_unspecified_addresses_are_refused_whatever_is_allowed(url: str) -> None:
    everything = hosts.parse_networks("0.0.0.0/0,::/0")
    with pytest.raises(hosts.HostRefused) as refused:
        hosts.check_url(url, allowed=everything)
    assert hosts.ALLOW_SETTING not in str(refused.value)  # no setting would help: not suggested


def test_a_name_is_checked_by_every_address_it_resolves_to() -> None:
    dns = resolver({"mixed.example.org": ["93.184.215.14", "10.0.0.5"], "public.example.org": ["93.184.215.14"]})

    hosts.check_url("https://public.example.org/h", allowed=(), resolver=dns)
    with pytest.raises(hosts.HostRefused, match=r"10\.0\.0\.5 is a private address"):
        hosts.check_url("https://mixed.example.org/h", allowed=(), resolver=dns)
    where, addresses = hosts.addresses_to_connect("https://public.example.org/h", (), dns)
    assert (where.host, addresses) == ("public.example.org", [ipaddress.ip_address("93.184.215.14")])


def test_a_name_that_does_not_resolve_is_accepted_at_registration_but_not_when_connecting() -> None:
    hosts.check_url("https://not-yet.example.org/h", allowed=())  # DNS may be down; the sender checks again
    with pytest.raises(hosts.HostRefused, match="does not resolve"):
        hosts.addresses_to_connect("https://not-yet.example.org/h", ())


def test_a_single_label_host_must_resolve_to_an_allowed_network() -> None:
    dns = resolver({"receiver": ["172.18.0.5"]})

    with pytest.raises(hosts.HostRefused, match="single-label"):
        hosts.check_url("http://receiver:8080/hook", allowed=hosts.parse_networks("172.16.0.0/12"))
    with pytest.raises(hosts.HostRefused, match=r"172\.18\.0\.5 is a private address"):
        hosts.check_url("http://receiver:8080/hook", allowed=(), resolver=dns)
    assert hosts.check_url("http://receiver:8080/hook", hosts.parse_networks("172.16.0.0/12"), dns).port == 8080


def test_the_setting_is_read_from_the_environment_and_a_bad_entry_allows_nothing() -> None:
    assert hosts.allowed_networks({}) == ()
    assert hosts.allowed_networks({hosts.ALLOW_SETTING: "127.0.0.0/8,10.0.0.1"}) == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("10.0.0.1/32"),
    )
    assert hosts.allowed_networks({hosts.ALLOW_SETTING: "127.0.0.0/8,intranet"}) == ()
    with pytest.raises(ValueError, match="'intranet' is not an address or CIDR network"):
        hosts.parse_networks("127.0.0.0/8,intranet")


# The API schemas: a refused URL is a 400 naming the field.


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/h", "http://169.254.169.254/", "http://[::1]/", "http://10.0.0.1/", "http://0.0.0.0/",
     "http://2130706433/", "http://user:pw@example.org/", "http://receiver:8080/hook"],
)  # fmt: skip
def test_every_webhook_field_of_the_api_refuses_them_by_name(url: str) -> None:
    section = {"code": "ew", "name": "SP", "country": "England", "email": "sp@example.org"}
    cases = [
        (SectionRegistration(), {**section, "webhook_url": url}, "webhook_url"),
        (SectionContactsUpdate(), {"webhook_url": url}, "webhook_url"),
        (WebhookRegistration(), {"url": url, "event_types": ["motion.decided"]}, "url"),
    ]
    for schema, payload, field in cases:
        with pytest.raises(InvalidInput) as refused:
            load(schema, payload)
        assert list(refused.value.fields) == [field]
        assert any("may not be used" in m or "Not a valid URL" in m for m in refused.value.fields[field])


def test_the_api_takes_an_allowed_private_network_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hosts.ALLOW_SETTING, "127.0.0.0/8")
    monkeypatch.setattr(hosts, "resolve", resolver({"receiver": ["127.0.0.1"]}))

    assert load(SectionContactsUpdate(), {"webhook_url": "http://receiver:8080/hook"})["webhook_url"]
    assert load(WebhookRegistration(), {"url": "http://127.0.0.1:9/h", "event_types": ["motion.decided"]})["url"]
    with pytest.raises(InvalidInput):
        load(WebhookRegistration(), {"url": "http://10.0.0.1/h", "event_types": ["motion.decided"]})
