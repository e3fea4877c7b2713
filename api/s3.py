"""Input media on S3-compatible storage (AWS S3, Cloudflare R2, Backblaze B2, MinIO, Google Cloud
Storage's S3 interface): objects named by content hash, handed to the provider as presigned GET URLs.

boto3 is an optional extra (``ltx2-nodes[s3]``) and is imported only when this method is used.
Credentials come only from boto3's own chain (``AWS_*`` variables, the shared credentials file,
profiles); their secret parts are registered for redaction as soon as they are read. Every boto3 /
botocore failure becomes one ``HostingError`` line naming the setting to fix, raised before any paid
submit.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import time
from typing import Any

from .config import S3Settings
from .errors import HostingError
from .redact import redact_text, register_secret

log = logging.getLogger("ltx2_nodes.s3")

INSTALL_HINT = (
    "Hosting method 's3' needs boto3, which is not installed: run pip install 'ltx2-nodes[s3]' "
    "(in ComfyUI: pip install boto3 with ComfyUI's own Python)."
)
PROBE_TIMEOUT = 30.0  # seconds for the one-byte check of a presigned URL
_ERROR_BODY_CAP = 16 << 10
_EXTENSION = re.compile(r"[^a-z0-9]+")
_CREDENTIALS_REFUSED = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidSecurity",
    "InvalidClientTokenId",
    "AuthorizationQueryParametersError",
}
_WRONG_REGION = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
_NOT_THERE = {"404", "NoSuchKey", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "AccountProblem"}


def _boto() -> tuple[Any, Any, Any]:
    """(boto3, botocore.config, botocore.exceptions), or HostingError saying how to install boto3."""
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise HostingError(INSTALL_HINT) from None
    return boto3, botocore.config, botocore.exceptions


def object_key(settings: S3Settings, digest: str, content_type: str, extension: str) -> str:
    """``<prefix><sha256>.<ext>``: equal bytes get one name, so they are stored once."""
    ext = _EXTENSION.sub("", (extension or "").lower())[:8] or "bin"
    return f"{settings.prefix}{digest}.{ext}"


def _where(settings: S3Settings, region: str | None = None) -> str:
    return settings.endpoint_url or f"AWS S3 ({region or settings.region or 'default region'})"


class S3Store:
    """One bucket reached with one set of credentials. Blocking (boto3): call it from a thread."""

    def __init__(self, settings: S3Settings) -> None:
        if not settings.bucket:  # the caller names the missing setting (api.hosting)
            raise ValueError("S3Store needs settings with a bucket")
        boto3, bconfig, self._exc = _boto()
        self.settings = settings
        try:
            session = (
                boto3.Session(profile_name=settings.aws_profile) if settings.aws_profile else boto3.Session()
            )
            credentials = session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except Exception as exc:
            raise self._error(exc, "reading the credentials") from None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise HostingError(
                f"No credentials for S3 bucket '{settings.bucket}': set AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (or {settings.setting('aws_profile')}) naming a "
                f"profile of the shared AWS credentials file."
            )
        register_secret(frozen.secret_key)
        register_secret(frozen.token)
        self._credentials = credentials
        #: Temporary credentials put their session token into every presigned URL: such URLs are
        #: never written to the hosting cache on disk (and they die with the credentials anyway).
        self.temporary = bool(frozen.token)
        # A tag of the access key (never the key): a URL signed for one account is not reused for another.
        self.account = hashlib.sha256(frozen.access_key.encode()).hexdigest()[:16]
        self.region = settings.region or session.region_name or "us-east-1"
        options: dict[str, Any] = dict(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        try:
            # Checksums only where S3 requires them: many S3-compatible services refuse the trailers
            # botocore 1.36+ adds by default; Content-MD5 below still guards the upload.
            config = bconfig.Config(
                **options,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
        except TypeError:  # an older botocore, which sends no such trailers anyway
            config = bconfig.Config(**options)
        try:
            self.client = session.client(
                "s3", endpoint_url=settings.endpoint_url, region_name=self.region, config=config
            )
        except Exception as exc:
            raise self._error(exc, "opening the storage") from None

    @property
    def location(self) -> str:
        """Cache key of this store: endpoint, region, bucket, prefix and account."""
        s = self.settings
        return f"{s.endpoint_url or 'aws'}|{self.region}|{s.bucket}|{s.prefix}#{self.account}"

    def _secrets_registered(self) -> None:
        # Refreshable credentials (SSO, assumed roles) may have rotated since the last call.
        try:
            frozen = self._credentials.get_frozen_credentials()
        except Exception:
            return
        register_secret(frozen.secret_key)
        register_secret(frozen.token)

    # --- operations ---------------------------------------------------------------------------------
    def presign(self, key: str) -> tuple[str, float]:
        """A GET URL for ``key`` and when it stops working. Local: signs, sends nothing."""
        self._secrets_registered()
        ttl = self.settings.url_ttl
        issued = time.time()
        try:
            url = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.settings.bucket, "Key": key}, ExpiresIn=ttl
            )
        except Exception as exc:  # botocore's, or anything unexpected: still one line
            raise self._error(exc, "signing a URL") from None
        expires_at = issued + ttl
        # A URL signed with temporary credentials (an assumed role, SSO) dies with them.
        ends = getattr(self._credentials, "_expiry_time", None)
        if ends is not None and hasattr(ends, "timestamp"):
            expires_at = min(expires_at, ends.timestamp())
        return url, expires_at

    def ensure(self, key: str, data: bytes, content_type: str, digest: str) -> bool:
        """Store ``data`` under ``key`` unless an object with the same hash is there (HEAD first).
        Returns True when it uploaded."""
        self._secrets_registered()
        bucket = self.settings.bucket
        md5 = hashlib.md5(data)
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
            if _holds(head, data, content_type, digest, md5.hexdigest()):
                return False
        except self._exc.ClientError as exc:
            # 403 is what S3 answers for a missing object when the key may not list the bucket:
            # the PUT below tells a real refusal apart.
            if self._code(exc) not in _NOT_THERE | _FORBIDDEN:
                raise self._error(exc, "checking for an earlier upload") from None
        except Exception as exc:
            raise self._error(exc, "checking for an earlier upload") from None
        try:
            self.client.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
                Metadata={"sha256": digest},
            )
        except Exception as exc:
            raise self._error(exc, "uploading") from None
        return True

    async def probe(self, url: str) -> None:
        """Fetch the first byte of a presigned URL as the provider will: under the package's URL policy
        (no private address, http only to loopback) and without following redirects, so a URL the
        provider could not read is refused before the paid submit."""
        from . import urlpolicy
        from .net.connections import Timeouts, build_http

        http, pinned = build_http(Timeouts(connect=10.0, read=PROBE_TIMEOUT, write=PROBE_TIMEOUT))
        try:
            async with http:
                if pinned:
                    urlpolicy.check_url(url)  # each connection checks the addresses it resolves
                else:
                    await urlpolicy.check_url_resolved(url)
                async with http.stream("GET", url, headers={"Range": "bytes=0-0"}) as resp:
                    status = resp.status_code
                    body = b""
                    if status not in (200, 206):
                        async for chunk in resp.aiter_bytes():
                            body += chunk
                            if len(body) >= _ERROR_BODY_CAP:
                                break
        except urlpolicy.UrlRefused as exc:
            raise HostingError(
                f"No provider can fetch inputs stored at {urlpolicy.host_of(url)}: {exc}. Set "
                f"{self.settings.setting('endpoint_url')} to the storage's public https:// endpoint."
            ) from None
        except Exception as exc:  # httpx.HTTPError, a name that does not resolve: one line all the same
            raise HostingError(
                f"Cannot read the stored input back from {_where(self.settings, self.region)} "
                f"({type(exc).__name__}): check {self.settings.setting('endpoint_url')}."
            ) from None
        if status in (200, 206):
            return
        code = _xml_field(body, "Code") or f"HTTP {status}"
        if 300 <= status < 400 or code in _WRONG_REGION:
            expected = _xml_field(body, "Region")
            hint = f" (the bucket is in '{expected}')" if expected else ""
            raise HostingError(
                f"S3 bucket '{self.settings.bucket}' answers its presigned URL with a redirect{hint}; providers "
                f"do not follow redirects: set {self.settings.setting('region')} to the bucket's region"
                f"{' or fix ' + self.settings.setting('endpoint_url') if self.settings.endpoint_url else ''}."
            )
        if status == 403:
            raise HostingError(
                f"S3 bucket '{self.settings.bucket}' refuses its own presigned URL ({code}): the credentials "
                f"need s3:GetObject on '{self.settings.bucket}/{self.settings.prefix}*' (check AWS_* / "
                f"{self.settings.setting('aws_profile')}), and {self.settings.setting('region')} must be the "
                f"bucket's region."
            )
        raise HostingError(
            f"S3 bucket '{self.settings.bucket}' answered its presigned URL with {code}: check "
            f"{self.settings.setting('bucket')} and {self.settings.setting('endpoint_url')}."
        )

    def delete(self, key: str) -> None:
        self._secrets_registered()
        try:
            self.client.delete_object(Bucket=self.settings.bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, "deleting") from None

    # --- errors --------------------------------------------------------------------------------------
    @staticmethod
    def _code(exc: Any) -> str:
        error = (getattr(exc, "response", None) or {}).get("Error") or {}
        return str(error.get("Code") or "")

    def _error(self, exc: BaseException, doing: str) -> HostingError:
        """One line for a boto3 / botocore failure, naming the setting to fix; never a secret."""
        s = self.settings
        bucket = f"S3 bucket '{s.bucket}'"
        e = self._exc
        if isinstance(exc, e.NoCredentialsError):
            text = (
                f"No credentials for {bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                f"(or {s.setting('aws_profile')}) naming a profile of the shared AWS credentials file."
            )
        elif isinstance(exc, e.PartialCredentialsError):
            text = (
                f"Incomplete credentials for {bucket} ({getattr(exc, 'cred_var', 'a part')} is missing): "
                f"set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use an AWS profile."
            )
        elif isinstance(exc, e.ProfileNotFound):
            text = (
                f"The AWS profile {s.aws_profile or ''!r} is not in the shared AWS files: fix "
                f"{s.setting('aws_profile')} or AWS_PROFILE."
            )
        elif isinstance(exc, (e.EndpointConnectionError, e.ConnectTimeoutError, e.ConnectionClosedError)):
            where = (
                f"check {s.setting('endpoint_url')}"
                if s.endpoint_url
                else f"check the network and {s.setting('region')}"
            )
            text = f"Cannot reach the S3 endpoint {_where(s, getattr(self, 'region', None))} while {doing}: {where}."
        elif isinstance(exc, e.ReadTimeoutError):
            text = f"The S3 endpoint {_where(s, getattr(self, 'region', None))} did not answer in time while {doing}: check {s.setting('endpoint_url')}."
        elif isinstance(exc, e.ClientError):
            code = self._code(exc)
            if code == "NoSuchBucket" or (code in _NOT_THERE and doing != "checking for an earlier upload"):
                text = f"{bucket} does not exist at {_where(s, getattr(self, 'region', None))}: create it, or fix {s.setting('bucket')}."
            elif code in _CREDENTIALS_REFUSED:
                text = (
                    f"{_where(s, getattr(self, 'region', None))} refused the credentials for {bucket} ({code}): check AWS_ACCESS_KEY_ID / "
                    f"AWS_SECRET_ACCESS_KEY (or the profile in {s.setting('aws_profile')} / AWS_PROFILE)."
                )
            elif code in _FORBIDDEN:
                text = (
                    f"Access to {bucket} was denied while {doing} ({code}): the credentials (AWS_* or the "
                    f"AWS profile) need s3:PutObject and s3:GetObject on '{s.bucket}/{s.prefix}*', or fix "
                    f"{s.setting('bucket')}."
                )
            elif code in _WRONG_REGION or code == "301":
                text = f"{bucket} is in another region: set {s.setting('region')} to the bucket's region."
            elif code == "InvalidBucketName":
                text = f"{bucket} is not a valid bucket name here: fix {s.setting('bucket')}."
            else:
                message = ((exc.response or {}).get("Error") or {}).get("Message") or ""  # type: ignore[attr-defined]
                text = (
                    f"{_where(s, getattr(self, 'region', None))} answered {code or 'an error'}{': ' + message[:200] if message else ''} while "
                    f"{doing} for {bucket}: check {s.setting('bucket')} and {s.setting('endpoint_url')}."
                )
        else:
            text = (
                f"S3 storage failed while {doing} for {bucket} ({type(exc).__name__}): check "
                f"{s.setting('endpoint_url')}, {s.setting('region')} and the AWS credentials."
            )
        return HostingError(" ".join(redact_text(text).split()))


def _holds(head: dict[str, Any], data: bytes, content_type: str, digest: str, md5_hex: str) -> bool:
    """Whether a HEAD answer describes exactly these bytes: size and type, and the SHA-256 this pack
    stores as metadata (or, where a service does not echo S3 metadata, the MD5 ETag of a plain PUT)."""
    if head.get("ContentLength") != len(data) or head.get("ContentType") != content_type:
        return False
    stored = (head.get("Metadata") or {}).get("sha256")
    if stored is not None:
        return stored == digest
    return str(head.get("ETag") or "").strip('"').lower() == md5_hex


def _xml_field(body: bytes, name: str) -> str | None:
    match = re.search(rf"<{name}>([^<]{{1,200}})</{name}>".encode(), body or b"")
    return match.group(1).decode("utf-8", "replace") if match else None


class _RedactingFilter(logging.Filter):
    """Takes the secrets out of a library's log records (botocore's debug log shows the session token
    and signatures; httpx logs each URL it fetches, presigned ones included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted: drop its arguments, keep the line
            text = str(record.msg)
        record.msg, record.args = redact_text(text), ()
        return True


_REDACTING_FILTER = _RedactingFilter()
_LIBRARY_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore")


def _guard_library_logs() -> None:
    """Attach the redacting filter to every logger of the libraries the S3 path uses. A logger's filter
    sees only its own records, so each one (``botocore.auth``, ``botocore.endpoint``, ...) gets it."""
    names = [
        name for name in list(logging.Logger.manager.loggerDict) if name.split(".", 1)[0] in _LIBRARY_LOGGERS
    ]
    for name in {*names, *_LIBRARY_LOGGERS}:
        logger = logging.getLogger(name)
        if _REDACTING_FILTER not in logger.filters:
            logger.addFilter(_REDACTING_FILTER)


def open_store(settings: S3Settings) -> S3Store:
    """A store for ``settings``; creating boto3 sessions is not thread-safe, so one at a time."""
    with _open_lock:
        store = S3Store(settings)
        _guard_library_logs()  # after the client exists: botocore creates its loggers as it loads
        return store


_open_lock = threading.Lock()
