"""The one URL policy: https to public hosts, plain http only to loopback, never private,
link-local, multicast, unspecified or reserved addresses, written as literals or resolved from a
name (every address checked). Names are resolved by an injected resolver: nothing is looked up."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api import config, urlpolicy
from ltx2_nodes.api.urlpolicy import UrlRefused, address_problem, check_url, check_url_resolved

# Networks no fetch may reach (loopback aside), IPv4 and IPv6.
FORBIDDEN_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32", "::ffff:10.0.0.0/104"]
PUBLIC_V4 = ["8.8.8.0/24", "1.1.1.0/24", "151.101.0.0/16", "93.184.216.0/24"]
PUBLIC_V6 = ["2606:4700::/32", "2a00:1450::/32"]


def _in(network: str) -> st.SearchStrategy[str]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: str(net[i]))


forbidden = st.one_of(*(_in(n) for n in FORBIDDEN_V4 + FORBIDDEN_V6))
public = st.one_of(*(_in(n) for n in PUBLIC_V4 + PUBLIC_V6))
loopback = st.one_of(_in("127.0.0.0/8"), st.just("::1"), _in("::ffff:127.0.0.0/104"))
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(com|net|video|example)", fullmatch=True)


def _url(scheme: str, host: str, path: str = "/v.mp4") -> str:
    return f"{scheme}://{f'[{host}]' if ':' in host else host}{path}"


def _resolver(table: dict[str, list[str]]):
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise OSError("no such name")
        return table[host]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


@given(address=forbidden, scheme=st.sampled_from(["http", "https"]))
def test_forbidden_literals_are_refused(address: str, scheme: str) -> None:
    assert address_problem(address) is not None
    with pytest.raises(UrlRefused):
        check_url(_url(scheme, address))


@given(address=public)
def test_public_literals_pass_over_https_only(address: str) -> None:
    assert address_problem(address) is None
    assert check_url(_url("https", address)).literal == ipaddress.ip_address(address)
    with pytest.raises(UrlRefused, match="plain http"):
        check_url(_url("http", address))


@given(address=loopback, scheme=st.sampled_from(["http", "https"]))
def test_loopback_is_allowed_for_local_servers(address: str, scheme: str) -> None:
    assert urlpolicy.is_loopback_host(address)
    assert config.is_loopback_host(address)  # the config module re-exports the one rule
    check_url(_url(scheme, address, "/x"))


@given(v4=st.one_of(*(_in(n) for n in FORBIDDEN_V4)))
def test_ipv6_forms_that_carry_a_forbidden_ipv4_are_refused(v4: str) -> None:
    packed = int(ipaddress.IPv4Address(v4))
    for form in (
        f"::ffff:{v4}",  # IPv4-mapped
        str(ipaddress.IPv6Address((0x2002 << 112) | (packed << 80))),  # 6to4
        str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | packed)),  # NAT64
    ):
        assert address_problem(form) is not None, form


@given(name=names, address=forbidden)
def test_a_name_resolving_to_a_forbidden_address_is_refused(name: str, address: str) -> None:
    resolve = _resolver({name: [address]})
    with pytest.raises(UrlRefused, match="resolves to"):
        asyncio.run(check_url_resolved(_url("https", name), resolver=resolve))
    assert resolve.asked == [name]


@given(name=names, good=st.lists(public, min_size=1, max_size=3), bad=forbidden, at=st.integers(0, 3))
def test_every_resolved_address_is_checked(name: str, good: list[str], bad: str, at: int) -> None:
    addresses = [*good]
    addresses.insert(min(at, len(addresses)), bad)
    with pytest.raises(UrlRefused):
        asyncio.run(check_url_resolved(_url("https", name), resolver=_resolver({name: addresses})))
    target = asyncio.run(check_url_resolved(_url("https", name), resolver=_resolver({name: good})))
    assert target.host == name and target.port == 443


@given(name=names, address=public)
def test_plain_http_to_a_public_name_is_refused_before_resolving(name: str, address: str) -> None:
    resolve = _resolver({name: [address]})
    with pytest.raises(UrlRefused, match="plain http"):
        asyncio.run(check_url_resolved(_url("http", name), resolver=resolve))
    assert resolve.asked == []


def test_a_name_that_does_not_resolve_is_a_network_error_not_a_refusal() -> None:
    with pytest.raises(urlpolicy.NameNotResolved, match="could not be resolved"):
        asyncio.run(check_url_resolved("https://nowhere.example/v.mp4", resolver=_resolver({})))
    with pytest.raises(urlpolicy.NameNotResolved, match="no address"):
        asyncio.run(
            check_url_resolved("https://empty.example/v.mp4", resolver=_resolver({"empty.example": []}))
        )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/v.mp4",
        "file:///etc/passwd",
        "https:///nohost",
        "javascript:alert(1)",
        "http://127.0.0.1:notaport/",
        "",
        "https://[fe80::1%25eth0]/v.mp4",
        "http://0.0.0.0:8188/",
        "https://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.1.1]/",
    ],
)
def test_odd_and_internal_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url)


def test_the_messages_name_the_host_never_the_query() -> None:
    with pytest.raises(UrlRefused) as info:
        check_url("http://cdn.example.com/v.mp4?X-Amz-Signature=s3cr3t")
    assert "cdn.example.com" in str(info.value) and "s3cr3t" not in str(info.value)
