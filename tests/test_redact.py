"""Redaction: bearer headers, registered secrets, key-like tokens, signed URL parameters, nested values."""

from __future__ import annotations

import copy
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from ltx2_nodes.api.redact import redact, redact_text, register_secret

SECRET_ALPHABET = string.ascii_letters + string.digits + "-_."
secrets_st = st.text(SECRET_ALPHABET, min_size=8, max_size=48)
filler_st = st.text(string.ascii_letters + string.digits + " :,;{}[]\"'=/&?-_.\n", max_size=60)


def test_bearer_header_is_masked() -> None:
    out = redact_text("Authorization: Bearer abc.DEF-123_xyz~+/=")
    assert "abc.DEF" not in out
    assert out == "Authorization: Bearer ***"


def test_bearer_is_case_insensitive() -> None:
    out = redact_text("authorization: bearer tok3n-value")
    assert "tok3n-value" not in out
    assert out.endswith("bearer ***")


def test_key_like_tokens() -> None:
    text = "keys aio_abcdef123456 sk-ZZZZZZZZZZZZ ltx_extend.mp4 gmi_image-to-video end"
    out = redact_text(text)
    for token in ("abcdef123456", "ZZZZZZZZZZ"):
        assert token not in out
    # Documented key shapes are masked; file names that merely share a prefix stay readable.
    assert out == "keys aio_*** sk-*** ltx_extend.mp4 gmi_image-to-video end"


def test_short_prefixes_are_left_alone() -> None:
    # Too short to be a key: ordinary words must survive.
    assert redact_text("sk-abc and aio_x") == "sk-abc and aio_x"


def test_signed_url_parameters() -> None:
    url = (
        "https://storage.googleapis.com/bucket/out.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Signature=deadbeefcafe&X-Goog-Expires=900"
    )
    out = redact_text(url)
    assert "deadbeefcafe" not in out
    assert "X-Goog-Signature=***" in out
    assert "X-Goog-Expires=900" in out  # only the secret part goes
    s3 = redact_text("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc123&x=1")
    assert "abc123" not in s3 and s3.endswith("X-Amz-Signature=***&x=1")
    for name in ("token", "sig", "api_key", "key", "signature", "apikey"):
        out = redact_text(f"https://h/p?a=1&{name}=s3cr3tvalue")
        assert "s3cr3tvalue" not in out, name


def test_registered_secret_anywhere() -> None:
    register_secret("plain-secret-value-42")
    out = redact_text('{"note": "xx plain-secret-value-42 yy"}')
    assert "plain-secret-value-42" not in out
    assert "xx *** yy" in out


def test_register_ignores_tiny_values() -> None:
    register_secret("ab")
    register_secret(None)
    register_secret("")
    assert redact_text("ab cab") == "ab cab"


def test_explicit_secrets_argument() -> None:
    assert redact_text("one TWO-three four", ["TWO-three"]) == "one *** four"


def test_nested_structures() -> None:
    value = {
        "headers": {"Authorization": "Bearer zzzzzzzz", "Accept": "application/json"},
        "items": [{"api_key": "k-123456"}, ("Bearer qqqqqqqq", 3, None)],
        "token": "t-999",
        "empty_secret_field": {"key": ""},
        "n": 5,
        "ok": True,
    }
    before = copy.deepcopy(value)
    out = redact(value)
    assert value == before  # the input is not changed
    assert out["headers"]["Authorization"] == "***"
    assert out["headers"]["Accept"] == "application/json"
    assert out["items"][0]["api_key"] == "***"
    assert out["items"][1] == ("Bearer ***", 3, None)
    assert isinstance(out["items"][1], tuple)
    assert out["token"] == "***"
    assert out["empty_secret_field"] == {"key": ""}  # nothing to hide
    assert out["n"] == 5 and out["ok"] is True


@given(secret=secrets_st, before=filler_st, after=filler_st)
@settings(max_examples=150, deadline=None)
def test_registered_secrets_never_survive(secret: str, before: str, after: str) -> None:
    register_secret(secret)
    text = f"{before}{secret}{after}{secret}"
    assert secret not in redact_text(text)


@given(secret=secrets_st, before=filler_st)
@settings(max_examples=100, deadline=None)
def test_explicit_secret_never_survives_in_nested_values(secret: str, before: str) -> None:
    value = {"a": [before + secret, {"b": (secret, before)}], "c": f"Bearer {secret}"}
    flat = repr(redact(value, [secret]))
    assert secret not in flat


@given(token=st.text(string.ascii_letters + string.digits + "._~+/=-", min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_any_bearer_token_is_masked(token: str) -> None:
    out = redact_text(f"Authorization: Bearer {token}")
    assert out == "Authorization: Bearer ***"


@given(value=st.text(string.ascii_letters + string.digits + "%-_.", min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_any_signature_parameter_is_masked(value: str) -> None:
    out = redact_text(f"https://cdn.example.com/v.mp4?X-Goog-Signature={value}&keep=1")
    assert out == "https://cdn.example.com/v.mp4?X-Goog-Signature=***&keep=1"


@given(
    tree=st.recursive(
        st.one_of(st.integers(), st.booleans(), st.none(), st.text("àéîõüß ", max_size=10)),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6), children, max_size=3)
        ),
        max_leaves=12,
    )
)
@settings(max_examples=100, deadline=None)
def test_structure_without_secrets_is_preserved(tree: object) -> None:
    # Words no registered secret or key pattern can match (non-ASCII letters) keep the tree unchanged,
    # unless a field is secret-named.
    def has_secret_field(node: object) -> bool:
        if isinstance(node, dict):
            return any(
                k in ("key", "token", "secret", "password", "apikey") or has_secret_field(v)
                for k, v in node.items()
            )
        if isinstance(node, list):
            return any(has_secret_field(v) for v in node)
        return False

    if has_secret_field(tree):
        return
    assert redact(tree) == tree
