"""LTX-2 Provider Settings refuses a base URL the run would refuse, when the node runs, naming the input."""

from __future__ import annotations

import pytest
from ltx2_nodes.nodes.errors import LTX2InputError
from ltx2_nodes.nodes.settings import LTX2ProviderSettings, LTX2Settings


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",  # plain http would send the key in clear text
        "http://192.168.1.10:8080/gmi",
        "https://api.example.com/v1?region=eu",
        "https://api.example.com/v1#top",
        "https:///nohost",
    ],
)
def test_base_urls_the_run_would_refuse_are_refused_by_the_settings_node(url: str) -> None:
    with pytest.raises(LTX2InputError) as caught:
        LTX2ProviderSettings().build(base_url=url)
    message = str(caught.value)
    assert "'base_url'" in message and "https://" in message


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://api.example.com/v1/",
        "http://127.0.0.1:8765/gmi",
        "http://localhost:8765/ltx",
        "http://[::1]:9/x",
    ],
)
def test_usable_base_urls_are_accepted(url: str) -> None:
    (settings,) = LTX2ProviderSettings().build(base_url=url)
    assert settings == LTX2Settings(base_url=url)
