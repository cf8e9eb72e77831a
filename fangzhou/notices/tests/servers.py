"""Local HTTP servers that speak the providers' documented protocols, for the notices' tests.

``SmsServer`` is Tencent Cloud SMS's ``SendSms`` (API 2021-01-11): it recomputes the TC3-HMAC-SHA256
signature from the request it received (written here from Tencent's "Signature v3" document, not
from the code under test), checks the common headers and the body's documented fields, and answers
as Tencent does (``SendStatusSet`` or ``Error``). ``PushServer`` is a Web Push service (RFC 8030): it
checks the VAPID ``Authorization`` header (RFC 8292: an ES256 JWT for this origin, and the key it was
signed with), the ``aes128gcm`` body's headers (RFC 8291), decrypts the body with the subscription's
private key, and answers 201, or 410 for a withdrawn subscription.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

SECRET_ID = "AKIDtestsecretid0000000000000000"
SECRET_KEY = "testsecretkey0000000000000000000"
APP_ID = "1400000001"
SIGN_NAME = "方舟测试"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]  # names in lower case
    problems: list[str] = field(default_factory=list)


class _Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[Received] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, answer = server.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _tc3_expected(headers: dict[str, str], raw: bytes, secret_key: str) -> str:
    """The signature Tencent computes for this request (Signature v3, the document's four steps)."""
    host = headers.get("host", "")
    content_type = headers.get("content-type", "")
    timestamp = int(headers.get("x-tc-timestamp", "0"))
    day = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical_headers = f"content-type:{content_type.lower()}\nhost:{host.lower()}\n"
    canonical = f"POST\n/\n\n{canonical_headers}\ncontent-type;host\n{hashlib.sha256(raw).hexdigest()}"
    scope = f"{day}/sms/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    secret_date = sign(("TC3" + secret_key).encode("utf-8"), day)
    secret_service = sign(secret_date, "sms")
    secret_signing = sign(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={SECRET_ID}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


class SmsServer(_Server):
    """Tencent Cloud SMS ``SendSms``. ``fail_first``: answer that many requests with an internal
    error (retried by the sender); ``refuse``: answer every request with a template error."""

    def __init__(self, port: int, *, fail_first: int = 0, refuse: bool = False) -> None:
        super().__init__(port)
        self.fail_first = fail_first
        self.refuse = refuse

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        problems: list[str] = []
        if headers.get("authorization") != _tc3_expected(headers, raw, SECRET_KEY):
            problems.append("signature")
        for name, value in (
            ("X-TC-Action", "SendSms"),
            ("X-TC-Version", "2021-01-11"),
            ("X-TC-Region", "ap-guangzhou"),
        ):
            if headers.get(name.lower()) != value:
                problems.append(name)
        if abs(int(headers.get("x-tc-timestamp", "0")) - time.time()) > 300:
            problems.append("timestamp")
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
            problems.append("json")
        phones = body.get("PhoneNumberSet")
        if not (isinstance(phones, list) and phones and all(str(p).startswith("+") for p in phones)):
            problems.append("PhoneNumberSet")
        if body.get("SmsSdkAppId") != APP_ID or body.get("SignName") != SIGN_NAME:
            problems.append("app or sign")
        if not str(body.get("TemplateId", "")).isdigit():
            problems.append("TemplateId")
        params = body.get("TemplateParamSet")
        if not (isinstance(params, list) and all(isinstance(p, str) for p in params)):
            problems.append("TemplateParamSet")
        with self.lock:
            self.received.append(Received(body, headers, problems))
            self.problems += problems
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
        request_id = f"req-{len(self.received)}"
        if problems:
            code = "AuthFailure.SignatureFailure" if "signature" in problems else "InvalidParameter"
            return 200, {"Response": {"Error": {"Code": code, "Message": ",".join(problems)}, "RequestId": request_id}}
        if failing:
            return 200, {
                "Response": {"Error": {"Code": "InternalError.Timeout", "Message": "x"}, "RequestId": request_id}
            }
        if self.refuse:
            status = {"Code": "FailedOperation.TemplateIncorrectOrUnapproved", "Message": "template", "SerialNo": ""}
        else:
            status = {"Code": "Ok", "Message": "send success", "SerialNo": f"sn-{len(self.received)}", "Fee": 1}
        sets = [{**status, "PhoneNumber": phone, "SessionContext": body.get("SessionContext", "")} for phone in phones]
        return 200, {"Response": {"SendStatusSet": sets, "RequestId": request_id}}

    def texts(self) -> list[tuple[str, list[str]]]:
        return [(r.body["PhoneNumberSet"][0], r.body["TemplateParamSet"]) for r in self.received if not r.problems]


@dataclass
class Browser:
    """A browser's push subscription: its ECDH key pair and auth secret (what the page would send)."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)


def vapid_keys() -> tuple[str, str]:
    """A VAPID key pair: (private as base64url DER, public as base64url uncompressed point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(private), b64url(public)


class PushServer(_Server):
    """A push service. Paths ``/gone/...`` answer 410 (the subscription was withdrawn)."""

    def __init__(self, port: int, *, vapid_public: str) -> None:
        super().__init__(port)
        self.vapid_public = vapid_public
        self.browsers: dict[str, Browser] = {}
        self.messages: list[dict[str, Any]] = []

    def browser(self, name: str, *, gone: bool = False) -> Browser:
        path = f"/gone/{name}" if gone else f"/push/{name}"
        found = Browser(
            f"http://127.0.0.1:{self.port}{path}",
            ec.generate_private_key(ec.SECP256R1()),
            name.encode().ljust(16, b"0")[:16],
        )
        self.browsers[path] = found
        return found

    def _vapid_problems(self, headers: dict[str, str]) -> list[str]:
        auth = headers.get("authorization", "")
        if not auth.startswith("vapid "):
            return ["authorization scheme"]
        parts = dict(piece.strip().split("=", 1) for piece in auth[len("vapid ") :].split(","))
        token, key = parts.get("t", ""), parts.get("k", "")
        if key != self.vapid_public:
            return ["vapid key"]
        try:
            head, payload, signature = token.split(".")
            header = json.loads(b64url_decode(head))
            claims = json.loads(b64url_decode(payload))
            raw = b64url_decode(signature)
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature):
            return ["vapid signature"]
        problems = []
        if header.get("alg") != "ES256":
            problems.append("alg")
        if claims.get("aud") != f"http://127.0.0.1:{self.port}":
            problems.append("aud")
        if not (time.time() < int(claims.get("exp", 0)) <= time.time() + 24 * 3600):
            problems.append("exp")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            problems.append("sub")
        return problems

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        problems = self._vapid_problems(headers)
        if headers.get("content-encoding") != "aes128gcm":
            problems.append("content-encoding")
        if not headers.get("ttl", "").isdigit():
            problems.append("ttl")
        browser = self.browsers.get(path)
        message: dict[str, Any] = {}
        if browser is not None and not problems:
            try:
                message = json.loads(
                    http_ece.decrypt(raw, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm")
                )
            except Exception:
                problems.append("decrypt")
        with self.lock:
            self.received.append(Received(message, headers, problems))
            self.problems += problems
            if message and path.startswith("/push/"):
                self.messages.append({**message, "path": path})
        if problems:
            return 401 if any("vapid" in p for p in problems) else 400, {"problems": problems}
        if path.startswith("/gone/") or browser is None:
            return 410, {}
        return 201, {}


def when(hour: int, minute: int = 0, *, day: dt.date = dt.date(2026, 12, 1)) -> dt.datetime:
    """An aware time on Shanghai's clock."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo("Asia/Shanghai"))
