"""The OpenAPI document serves a client generator: openapi-python-client generates a
client from the served ``/openapi.json``, which then completes a create, read, update
and delete and a login round trip against the served API, unsigned (``make serve``'s
loopback operator) and SigV4-signed (as API Gateway verifies it).

No generator knows SigV4: the document declares it (``x-amazon-apigateway-authtype``)
and the generated ``AuthenticatedClient`` signs through an httpx request hook, the way
docs/client.md shows.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.e2e.conftest import served_api

pytestmark = pytest.mark.e2e

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, api_url: str) -> Iterator[Any]:
    """The client package generated from the served document (imported as ``caching_api``)."""
    from scripts.ops.http import HttpClient

    out = tmp_path_factory.mktemp("generated")
    client = HttpClient(api_url, timeout=10)
    try:
        (out / "openapi.json").write_bytes(client.request("GET", "/openapi.json").body)
    finally:
        client.close()
    (out / "config.yaml").write_text("post_hooks: []\npackage_name_override: caching_api\n")
    done = processes.run(
        [str(GENERATOR), "generate", "--path", str(out / "openapi.json"), "--meta", "none",
         "--config", str(out / "config.yaml"), "--output-path", str(out / "caching_api")],
        capture_output=True, text=True, timeout=300, check=False, cwd=out,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("caching_api")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "caching_api" or n.startswith("caching_api.")]:
            del sys.modules[name]


def _api(name: str) -> Any:
    return importlib.import_module(f"caching_api.api.{name}")


def _round_trip(client: Any, public: Any) -> None:
    """Create, read, update, delete a product; create a user, log in, read yourself."""
    from caching_api.models import LoginIn, ProductIn, ProductPatch, UserIn

    products = _api("products")
    created = importlib.import_module(f"{products.__name__}.create_product_products_post")
    made = created.sync_detailed(client=client, body=ProductIn(name="generated", price="4.20"))
    assert made.status_code == 201, made.content
    product_id = made.parsed.id
    read = importlib.import_module(f"{products.__name__}.get_product_products_id_get")
    assert read.sync(id=product_id, client=public).name == "generated"
    patch = importlib.import_module(f"{products.__name__}.patch_product_products_id_patch")
    changed = patch.sync_detailed(id=product_id, client=client, body=ProductPatch(name="renamed"))
    assert changed.status_code == 200, changed.content
    assert read.sync(id=product_id, client=public).name == "renamed"
    delete = importlib.import_module(f"{products.__name__}.delete_product_products_id_delete")
    assert delete.sync_detailed(id=product_id, client=client).status_code == 204
    assert read.sync_detailed(id=product_id, client=public).status_code == 404

    users = _api("users")
    email = f"gen-{uuid.uuid4().hex[:8]}@example.com"
    create_user = importlib.import_module(f"{users.__name__}.create_user_users_post")
    user = create_user.sync_detailed(client=client, body=UserIn(
        name="Gen", email=email, password="a long enough password"))
    assert user.status_code == 201, user.content
    log_in = importlib.import_module(f"{_api('sessions').__name__}.log_in_sessions_post")
    session = log_in.sync(client=public, body=LoginIn(email=email,
                                                       password="a long enough password"))
    from caching_api import AuthenticatedClient

    bearer = AuthenticatedClient(base_url=public._base_url, token=session.token)
    me = importlib.import_module(f"{users.__name__}.get_me_users_me_get")
    assert me.sync(client=bearer).email == email


def test_the_generated_client_round_trips_against_make_serve(generated, api_url):
    """Unsigned, as ``make serve`` takes a loopback caller: an empty credential."""
    client = generated.AuthenticatedClient(base_url=api_url, token="", prefix="")
    _round_trip(client, generated.Client(base_url=api_url))


def test_the_generated_client_signs_with_sigv4(generated, valkey_server, mysql_server):
    from scripts.local_sigv4 import DEFAULT_REGION, local_credentials

    with served_api(valkey_server, mysql_server, "generated_sigv4", CACHE_PREFIX="gensig",
                    RATE_LIMIT_REQUESTS="1000", serve={"principal": None, "sigv4": True}) as url:
        client = generated.AuthenticatedClient(
            base_url=url, token="", prefix="",
            httpx_args={"event_hooks": {"request": [sigv4_hook(local_credentials(),
                                                               DEFAULT_REGION)]}},
        )
        _round_trip(client, generated.Client(base_url=url))
        unsigned = generated.AuthenticatedClient(base_url=url, token="", prefix="")
        from caching_api.api.cache import stats_cache_stats_get

        assert stats_cache_stats_get.sync_detailed(client=unsigned).status_code == 403


def sigv4_hook(credentials: Any, region: str) -> Any:
    """An httpx request hook that signs each request as docs/client.md shows."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    signer = SigV4Auth(credentials, "execute-api", region)

    def sign(request: Any) -> None:
        request.headers.pop("Authorization", None)
        body = request.read()
        aws = AWSRequest(method=request.method, url=str(request.url), data=body,
                         headers={"Host": request.url.netloc.decode(),
                                  **({"Content-Type": request.headers["Content-Type"]}
                                     if "Content-Type" in request.headers else {})})
        signer.add_auth(aws)
        request.headers.update(dict(aws.headers.items()))

    return sign
