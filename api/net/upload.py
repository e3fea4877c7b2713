"""The provider upload flow: ask for a signed PUT URL (a call safe to repeat), check that URL
against the URL policy, PUT the bytes through the one retry helper. Storage hosts get only the
ticket's headers, never the key."""

from __future__ import annotations

import inspect
import logging

import httpx

from .. import urlpolicy
from ..errors import HostingError, NetworkError
from ..providers.base import UploadTicket
from ..types import MediaInput
from .calls import idempotent
from .jsonbody import MAX_ERROR_BYTES, read_capped, text_of
from .retry import Retry, retrying
from .transport import Wire


def _refused(wire: Wire, url: str, reason: object) -> HostingError:
    return HostingError(
        f"Refused to upload to {urlpolicy.host_of(url)}: {reason}. The upload URL must be https to a "
        f"public host (plain http only for loopback).",
        provider=wire.name,
    )


async def request_upload(wire: Wire, media: MediaInput) -> UploadTicket:
    """An upload slot (signed PUT URL + the URI to use afterwards), its URL already checked."""
    call = wire.provider.build_upload(media)
    if call is None:
        raise HostingError(
            f"{wire.display} has no upload endpoint. Hosting methods that work with it: "
            f"{', '.join(wire.provider.hosting_methods)}.",
            provider=wire.name,
        )
    body = await idempotent(wire, call, op="the upload request")
    try:
        if "media" in inspect.signature(wire.provider.parse_upload).parameters:
            # The PUT must carry the content type the URL was signed for: let the ticket name it.
            ticket = wire.provider.parse_upload(body, media=media)  # type: ignore[call-arg]
        else:
            ticket = wire.provider.parse_upload(body)
    except NotImplementedError:
        raise HostingError(f"{wire.display} has no upload endpoint.", provider=wire.name) from None
    try:
        urlpolicy.check_url(ticket.upload_url)
    except urlpolicy.UrlRefused as exc:
        raise _refused(wire, ticket.upload_url, exc) from None
    return ticket


async def put_upload(wire: Wire, ticket: UploadTicket, data: bytes, content_type: str) -> None:
    """PUT the bytes to the signed URL; 429 and 5xx are tried again."""
    url = ticket.upload_url
    headers = {"Content-Type": content_type, **dict(ticket.headers)}
    host = urlpolicy.host_of(url)
    path = httpx.URL(url).path

    async def attempt(n: int, attempts: int) -> None:
        try:
            await wire.check_url(url)
            request = wire.http.build_request("PUT", url, content=data, headers=headers)
            resp = await wire.http.send(request, stream=True)
        except urlpolicy.UrlRefused as exc:
            raise _refused(wire, url, exc) from None
        except httpx.HTTPError as exc:
            raise Retry(
                NetworkError(f"The upload to {host} failed ({type(exc).__name__}).", provider=wire.name)
            ) from None
        try:
            raw = await read_capped(resp, MAX_ERROR_BYTES, truncate=True)
        except httpx.HTTPError:
            raw = b""
        finally:
            await resp.aclose()
        wire.log(
            logging.INFO,
            "%s PUT %s%s -> %d (%d bytes, attempt %d/%d)",
            wire.name,
            host,
            path,
            resp.status_code,
            len(data),
            n,
            attempts,
        )
        if resp.is_success:
            return
        detail = wire.clean(text_of(raw, resp)[:300]).strip()
        err = HostingError(
            f"The upload to {host} was refused with HTTP {resp.status_code}{': ' + detail if detail else ''}.",
            provider=wire.name,
            status_code=resp.status_code,
            raw=detail,
        )
        if resp.status_code != 429 and resp.status_code < 500:
            raise err
        raise Retry(err, retry_after=resp.headers.get("Retry-After"))

    await retrying(attempt, attempts=wire.retry.attempts, policy=wire.retry, pause=wire.pause)
