"""Settings: defaults, overrides, and errors that name the variable."""

import pytest

from lambda_app.config_types import ConfigError
from lambda_app.settings import DEFAULT_TTLS, Settings

pytestmark = pytest.mark.unit


def test_defaults_are_safe_for_lambda():
    settings = Settings.from_env({})
    assert settings.valkey.connect_timeout == 0.5
    assert settings.valkey.timeout == 0.5
    assert settings.valkey.retries == 2
    assert settings.valkey.auth == "none"
    assert settings.cache.ttls == DEFAULT_TTLS
    assert settings.cache.maxmemory_policy == "allkeys-lfu"
    assert settings.cache.near_cache_classes == frozenset()
    assert settings.rate_limit.algorithm == "log"


def test_url_overrides_host_port_tls_and_credentials():
    settings = Settings.from_env({"VALKEY_URL": "valkeys://app:s%40cret@cache.internal:6380/3"})
    v = settings.valkey
    assert (v.host, v.port, v.tls, v.db) == ("cache.internal", 6380, True, 3)
    assert (v.username, v.password, v.auth) == ("app", "s@cret", "password")


def test_ttl_override_per_data_class():
    settings = Settings.from_env({"TTL_PRODUCT": "120", "TTL_SESSION": "60"})
    assert settings.cache.ttls["product"] == 120
    assert settings.cache.ttls["session"] == 60
    assert settings.cache.ttls["user"] == DEFAULT_TTLS["user"]


def test_password_is_not_in_repr():
    settings = Settings.from_env({"VALKEY_PASSWORD": "hunter2", "DB_PASSWORD": "hunter3"})
    assert "hunter2" not in repr(settings)
    assert "hunter3" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "variable", "expected"),
    [
        ({"VALKEY_PORT": "abc"}, "VALKEY_PORT", "whole number from 1 to 65535"),
        ({"VALKEY_PORT": "70000"}, "VALKEY_PORT", "whole number from 1 to 65535"),
        ({"VALKEY_TLS": "maybe"}, "VALKEY_TLS", "true or false"),
        ({"VALKEY_TIMEOUT": "nan"}, "VALKEY_TIMEOUT", "a number"),
        ({"VALKEY_URL": "http://x"}, "VALKEY_URL", "valkey://"),
        ({"VALKEY_URL": "valkey://h:port"}, "VALKEY_URL", "valkey://"),
        ({"VALKEY_AUTH": "kerberos"}, "VALKEY_AUTH", "none, password, iam"),
        ({"VALKEY_AUTH": "password"}, "VALKEY_PASSWORD", "VALKEY_PASSWORD_SECRET_ARN"),
        ({"VALKEY_AUTH": "iam", "VALKEY_TLS": "true"}, "VALKEY_USERNAME", "IAM"),
        (
            {"VALKEY_AUTH": "iam", "VALKEY_USERNAME": "u", "VALKEY_REPLICATION_GROUP_ID": "g"},
            "VALKEY_TLS",
            "requires TLS",
        ),
        (
            {
                "VALKEY_AUTH": "iam",
                "VALKEY_USERNAME": "u",
                "VALKEY_REPLICATION_GROUP_ID": "g",
                "VALKEY_TLS": "1",
            },
            "AWS_REGION",
            "region",
        ),
        ({"CACHE_MAXMEMORY_POLICY": "lru"}, "CACHE_MAXMEMORY_POLICY", "allkeys-lfu"),
        ({"CACHE_PREFIX": "a:b"}, "CACHE_PREFIX", "without spaces"),
        ({"CACHE_TTL_JITTER": "0.9"}, "CACHE_TTL_JITTER", "from 0 to 0.5"),
        ({"TTL_PRODUCT": "0"}, "TTL_PRODUCT", "whole number"),
        ({"NEAR_CACHE_CLASSES": "product,bogus"}, "NEAR_CACHE_CLASSES", "product"),
        ({"RATE_LIMIT_ALGORITHM": "token"}, "RATE_LIMIT_ALGORITHM", "log, sliding, fixed"),
        ({"DB_NAME": "app; drop"}, "DB_NAME", "letters, digits"),
        ({"DB_PORT": "-1"}, "DB_PORT", "whole number"),
    ],
)
def test_bad_values_name_the_variable_and_what_it_expects(env, variable, expected):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.name == variable
    assert str(info.value).startswith(f"{variable}: expected")
    assert expected in str(info.value)


def test_iam_auth_complete():
    settings = Settings.from_env(
        {
            "VALKEY_AUTH": "iam",
            "VALKEY_USERNAME": "app-user",
            "VALKEY_REPLICATION_GROUP_ID": "my-cache",
            "VALKEY_TLS": "true",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert settings.valkey.auth == "iam"
    assert settings.valkey.region == "eu-west-1"
