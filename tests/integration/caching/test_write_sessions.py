"""Session store against real Valkey (standalone and cluster) and the sessions table."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket

import pytest
import valkey as valkey_py

from lambda_app.caching.invalidation import scan_primaries
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.sessions import InvalidSessionError, SessionStore, digest, utc_now
from lambda_app.data.repositories import SessionRepository, UserRepository

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("t")


class Clock:
    """A settable clock for the database-side expiry rules (the cache TTL is real time)."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)



@pytest.fixture
def repo(db):
    return SessionRepository(lambda: db)


@pytest.fixture
def user_id(db):
    return UserRepository(lambda: db).create(name="Ada", email="ada@example.com")["id"]


@pytest.fixture
def clock():
    return Clock()


def make_store(client, repo, clock):
    return SessionStore(client, repo, keys=KEYS, clock=clock)


def value_key(store, token):
    return store.cache.key(digest(token))


def touch_key(store, token):
    return KEYS.companion(value_key(store, token), "touch")


def test_create_gives_a_256_bit_token_and_stores_only_its_digest(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, session = store.create(user_id)

    assert len(token) == 43  # 32 random bytes, base64url
    assert (session.user_id, session.expires_in) == (user_id, 1800)
    assert repo.get(token[:43]) is None  # the token itself is stored nowhere...
    assert repo.get(hashlib.sha256(token.encode()).hexdigest()) is not None  # ...its digest is
    names = [key for batch in scan_primaries(any_valkey, "*", 100) for key in batch]
    assert names and not any(token in key for key in names)


def test_validate_right_after_create_is_a_hit_with_an_exact_30_minute_ttl(
    any_valkey, repo, clock, user_id
):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)

    session = store.validate(token)

    assert session.hit and session.user_id == user_id
    assert 1_799_000 < any_valkey.pttl(value_key(store, token)) <= 1_800_000


def test_validate_slides_the_expiry(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    any_valkey.pexpire(value_key(store, token), 5_000)  # 25 idle minutes later

    store.validate(token)

    assert any_valkey.pttl(value_key(store, token)) > 1_799_000


def test_last_active_is_written_back_at_most_once_a_minute(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    created = repo.get(digest(token))["last_active"]

    first = clock.now = created + dt.timedelta(seconds=5)
    store.validate(token)
    for seconds in range(6, 50):  # many requests within the same minute
        clock.now = created + dt.timedelta(seconds=seconds)
        store.validate(token)
    assert repo.get(digest(token))["last_active"] == first  # one write for all of them

    any_valkey.delete(touch_key(store, token))  # the minute is over (the marker expired)
    clock.now = later = created + dt.timedelta(seconds=70)
    store.validate(token)
    assert repo.get(digest(token))["last_active"] == later


@pytest.mark.parametrize("token", ["", "abc", "x" * 42, "!" * 43, "a" * 44, None, 42])
def test_malformed_tokens_are_an_invalid_session(valkey, repo, clock, token):
    store = make_store(valkey, repo, clock)
    with pytest.raises(InvalidSessionError, match=r"^invalid session$"):
        store.validate(token)


def test_an_unknown_token_is_invalid_and_leaves_nothing_in_the_cache(valkey, repo, clock):
    """Random tokens must not fill the cache: no negative entry, no lease left behind."""
    store = make_store(valkey, repo, clock)
    for n in range(3):
        with pytest.raises(InvalidSessionError):
            store.validate(f"{n}" * 43)
    assert store.cache.metrics.snapshot()["session"]["loads"] == 3
    assert list(valkey.scan_iter(match="t:*")) == []


def test_a_session_ends_at_its_absolute_lifetime_however_active(valkey, repo, clock, user_id):
    store = SessionStore(valkey, repo, keys=KEYS, clock=clock, ttl_seconds=1_800,
                         max_lifetime_seconds=3_600)
    token, created = store.create(user_id)
    assert created.expires_in == 1_800
    for _ in range(3):  # active every 15 minutes: the idle timeout never runs out
        clock.advance(minutes=15)
        seen = store.validate(token)
        assert seen.hit
    assert seen.expires_in == 900  # what is left of the hour, not the idle 30 minutes
    clock.advance(minutes=20)  # 65 minutes after login; still a cache hit
    with pytest.raises(InvalidSessionError):
        store.validate(token)
    assert repo.get(digest(token)) is None
    assert valkey.get(value_key(store, token)) is None


def test_expired_rows_are_purged(valkey, db, repo, user_id):
    store = SessionStore(valkey, repo, keys=KEYS, ttl_seconds=1_800, max_lifetime_seconds=7_200)
    idle, live = store.create(user_id)[0], store.create(user_id)[0]

    def age(token: str, column: str, minutes: int) -> None:
        with db.cursor() as cursor:
            cursor.execute(f"UPDATE sessions SET {column} = %s WHERE token = %s",
                           (utc_now() - dt.timedelta(minutes=minutes), digest(token)))
        db.commit()

    age(idle, "last_active", 40)  # idle past 30 minutes and the write-back lag
    assert store.purge() == 1
    assert repo.get(digest(idle)) is None and repo.get(digest(live)) is not None
    age(live, "created_at", 3 * 60)  # active, but logged in past the absolute lifetime
    assert store.purge() == 1
    assert repo.get(digest(live)) is None


def test_ending_all_sessions_of_a_user_drops_rows_and_cache_entries(valkey, repo, clock,
                                                                    user_id):
    store = make_store(valkey, repo, clock)
    tokens = [store.create(user_id)[0] for _ in range(3)]
    assert store.end_all(user_id) == 3
    for token in tokens:
        with pytest.raises(InvalidSessionError):
            store.validate(token)


def test_session_idle_past_the_timeout_is_invalid_and_removed(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    any_valkey.delete(value_key(store, token))  # the cache entry expired (30 idle minutes)
    clock.advance(minutes=32)

    with pytest.raises(InvalidSessionError):
        store.validate(token)
    assert repo.get(digest(token)) is None


def test_cache_miss_within_the_timeout_reloads_from_the_database(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    any_valkey.delete(value_key(store, token))  # evicted
    clock.advance(minutes=20)

    session = store.validate(token)

    assert not session.hit and session.user_id == user_id
    assert repo.get(digest(token))["last_active"] == clock.now  # activity recorded
    assert store.validate(token).hit


def test_delete_logs_out(any_valkey, repo, clock, user_id):
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    store.validate(token)

    assert store.delete(token) is True
    with pytest.raises(InvalidSessionError):
        store.validate(token)
    assert store.delete(token) is False
    assert store.delete("not a token") is False


def test_session_deleted_in_the_database_is_noticed_at_the_next_write_back(
    any_valkey, db, repo, clock, user_id
):
    """Deleting the user cascades to sessions in the database only; the cached session
    stops working at the next once-a-minute write-back."""
    store = make_store(any_valkey, repo, clock)
    token, _ = store.create(user_id)
    store.validate(token)
    UserRepository(lambda: db).delete(user_id)

    any_valkey.delete(touch_key(store, token))  # a minute later
    with pytest.raises(InvalidSessionError):
        store.validate(token)
    assert any_valkey.get(value_key(store, token)) is None


def test_session_keys_share_one_slot(cluster_client, repo, clock):
    store = make_store(cluster_client, repo, clock)
    token = "B" * 43
    slots = {
        cluster_client.keyslot(key)
        for key in (
            value_key(store, token),
            store.cache.lease_key(value_key(store, token)),
            touch_key(store, token),
        )
    }
    assert len(slots) == 1


def test_cache_outage_falls_back_to_the_database(repo, clock, user_id):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = valkey_py.Valkey(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
    store = make_store(dead, repo, clock)

    token, _ = store.create(user_id)  # the database write is what counts
    session = store.validate(token)

    assert session.user_id == user_id and not session.hit
