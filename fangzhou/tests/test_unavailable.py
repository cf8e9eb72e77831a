"""A database that cannot be reached is a 503 with Retry-After, never a 500: a bilingual page for
residents and staff, a JSON body for the API. Run against a real closed port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nobody listens there


def test_pages_and_api_answer_503_when_the_database_is_down(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, django
        django.setup()
        from django.test import Client
        client = Client()
        out = {}
        for name, call in {
            "page": lambda: client.get("/testing/a/a-token-of-enough-length/"),
            "zone": lambda: client.get("/zones/p/a-token-of-enough-length/"),
            "api": lambda: client.post(
                "/api/orders/public/a-token-of-enough-length/requests",
                data=json.dumps({"kind": "other", "text": "help"}),
                content_type="application/json",
            ),
        }.items():
            r = call()
            out[name] = {
                "status": r.status_code,
                "retry": r.get("Retry-After"),
                "type": r["Content-Type"],
                "body": r.content.decode(),
            }
        print(json.dumps(out))
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fangzhou.settings",
        "DATABASE_URL": f"postgres://fangzhou:fangzhou@127.0.0.1:{_closed_port()}/fz_gone",
        "FANGZHOU_DATA_DIR": str(tmp_path),
        "FANGZHOU_DB_RETRY_AFTER_S": "45",
    }
    env.pop("DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("page", "zone"):
        assert out[name]["status"] == 503 and out[name]["retry"] == "45", out[name]
        assert "暂时无法服务" in out[name]["body"] and "Temporarily unavailable" in out[name]["body"]
        assert out[name]["type"].startswith("text/html")
    api = out["api"]
    assert api["status"] == 503 and api["retry"] == "45" and api["type"].startswith("application/problem+json"), api
    body = json.loads(api["body"])
    assert "数据库" in body["zh"] and "database" in body["en"]
