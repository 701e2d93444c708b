"""The Valkey connection layer against real servers: plain, TLS, AUTH, and outages."""

import socket
import ssl
import time

import pytest
import valkey

from lambda_app.clients.errors import CacheUnavailable
from lambda_app.clients.valkey import build_valkey, get_valkey, ping, reset_clients
from lambda_app.settings import Settings

pytestmark = pytest.mark.integration


def _settings(**env: str) -> Settings:
    return Settings.from_env(env)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_round_trip_with_bounded_timeouts(valkey_server):
    settings = _settings(VALKEY_HOST=valkey_server.host, VALKEY_PORT=str(valkey_server.port))
    client = build_valkey(settings.valkey)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.5
    assert kwargs["socket_connect_timeout"] == 0.5
    assert kwargs["retry"] is not None
    client.set("conn:test", b"1", ex=10)
    assert client.get("conn:test") == b"1"
    ping(client, settings.valkey)


def test_client_is_created_once_per_process(valkey_server):
    reset_clients()
    settings = _settings(VALKEY_URL=valkey_server.url)
    assert get_valkey(settings) is get_valkey(settings)
    reset_clients()


def test_closed_port_fails_fast_with_a_typed_error():
    settings = _settings(VALKEY_PORT=str(_closed_port()), VALKEY_RETRIES="1")
    client = build_valkey(settings.valkey)
    started = time.monotonic()
    with pytest.raises(CacheUnavailable) as info:
        ping(client, settings.valkey)
    assert time.monotonic() - started < 1.0
    assert "unavailable" in str(info.value)


def test_unroutable_host_times_out_within_the_connect_timeout():
    # 192.0.2.0/24 is TEST-NET-1: never routed. With no route at all the kernel may
    # refuse at once; either way the call must come back quickly and typed.
    settings = _settings(
        VALKEY_HOST="192.0.2.1", VALKEY_CONNECT_TIMEOUT="0.2", VALKEY_RETRIES="0"
    )
    started = time.monotonic()
    with pytest.raises(CacheUnavailable):
        ping(build_valkey(settings.valkey), settings.valkey)
    assert time.monotonic() - started < 1.5


def test_tls_with_ca_file(valkey_tls_server):
    settings = _settings(
        VALKEY_HOST=valkey_tls_server.host,
        VALKEY_PORT=str(valkey_tls_server.port),
        VALKEY_TLS="true",
        VALKEY_CA_FILE=str(valkey_tls_server.ca_file),
    )
    client = build_valkey(settings.valkey)
    client.set("tls:test", b"secure", ex=10)
    assert client.get("tls:test") == b"secure"


def test_tls_without_the_ca_is_refused(valkey_tls_server):
    settings = _settings(
        VALKEY_HOST=valkey_tls_server.host,
        VALKEY_PORT=str(valkey_tls_server.port),
        VALKEY_TLS="true",
        VALKEY_RETRIES="0",
    )
    with pytest.raises(CacheUnavailable):
        ping(build_valkey(settings.valkey), settings.valkey)


def test_plaintext_client_against_tls_port_fails_typed(valkey_tls_server):
    settings = _settings(
        VALKEY_HOST=valkey_tls_server.host,
        VALKEY_PORT=str(valkey_tls_server.port),
        VALKEY_RETRIES="0",
        VALKEY_TIMEOUT="0.3",
    )
    started = time.monotonic()
    with pytest.raises(CacheUnavailable):
        ping(build_valkey(settings.valkey), settings.valkey)
    assert time.monotonic() - started < 2.0


def test_password_auth_and_wrong_password(valkey):
    # An ACL user on the shared test server; removed afterwards.
    valkey.acl_setuser("conn-test", enabled=True, passwords=["+right"], commands=["+@all"],
                       keys=["*"])
    try:
        port = valkey.connection_pool.connection_kwargs["port"]
        host = valkey.connection_pool.connection_kwargs["host"]
        good = _settings(VALKEY_HOST=host, VALKEY_PORT=str(port), VALKEY_USERNAME="conn-test",
                         VALKEY_PASSWORD="right")
        client = build_valkey(good.valkey)
        assert client.acl_whoami() in ("conn-test", b"conn-test")
        bad = _settings(VALKEY_HOST=host, VALKEY_PORT=str(port), VALKEY_USERNAME="conn-test",
                        VALKEY_PASSWORD="wrong")
        with pytest.raises(CacheUnavailable) as info:
            ping(build_valkey(bad.valkey), bad.valkey)
        assert "authentication failed" in str(info.value)
    finally:
        valkey.acl_deluser("conn-test")


def test_cluster_mode_uses_the_cluster_client(valkey_cluster):
    node = valkey_cluster.nodes[0]
    host, port = node.host, node.port
    settings = _settings(VALKEY_HOST=host, VALKEY_PORT=str(port), VALKEY_CLUSTER="true")
    client = build_valkey(settings.valkey)
    assert isinstance(client, valkey.cluster.ValkeyCluster)
    for i in range(20):  # keys spread over every shard
        client.set(f"conn:cluster:{i}", str(i), ex=10)
    assert [client.get(f"conn:cluster:{i}") for i in range(20)] == [
        str(i).encode() for i in range(20)
    ]


def test_every_tls_connection_of_the_process_shares_one_context(valkey_tls_server):
    """Building a context parses the CA bundle (tens of ms at a cold start): once per
    process and trust store, whatever the number of connections, clients or restores."""
    from lambda_app.clients.tls import client_context

    client_context.cache_clear()
    settings = _settings(
        VALKEY_HOST=valkey_tls_server.host,
        VALKEY_PORT=str(valkey_tls_server.port),
        VALKEY_TLS="true",
        VALKEY_CA_FILE=str(valkey_tls_server.ca_file),
    )
    clients = [build_valkey(settings.valkey) for _ in range(2)]
    pipes = [client.pipeline(transaction=False) for client in clients]
    for pipe in pipes:  # several connections per client: the pool opens one per checkout
        pipe.ping()
    for pipe in pipes:
        assert pipe.execute() == [True]
    held = [pool.get_connection("_") for pool in (c.connection_pool for c in clients)
            for _ in range(2)]
    for conn in held:
        conn.connect()
    contexts = {id(conn._sock.context) for conn in held}
    assert len(contexts) == 1
    assert client_context.cache_info().misses == 1
    assert held[0]._sock.context.verify_mode == ssl.CERT_REQUIRED
