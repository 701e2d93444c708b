"""Service-layer input checks and error translation (no servers)."""

from __future__ import annotations

import pymysql
import pytest

from lambda_app.caching.keys import InvalidKeyError
from lambda_app.caching.rate_limit import Decision
from lambda_app.clients.errors import DatabaseUnavailable
from lambda_app.data import errors as data
from lambda_app.handlers.warmer import options
from lambda_app.services import errors
from lambda_app.services.validation import bounded, choice, entity_id, fields

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raised", "expected", "status"),
    [
        (data.NotFound("user", 4), errors.NotFound, 404),
        (data.DuplicateEmail("a@b.c"), errors.Conflict, 409),
        (data.InvalidValue("users.age", -1, "an age"), errors.BadRequest, 400),
        (InvalidKeyError("id", "a b"), errors.BadRequest, 400),
        (DatabaseUnavailable("mysql://h:1/app", "refused"), errors.Unavailable, 503),
        (pymysql.err.OperationalError(2013, "Lost connection"), errors.Unavailable, 503),
    ],
)
def test_domain_errors_translate(raised, expected, status):
    with pytest.raises(expected) as caught, errors.domain_errors():
        raise raised
    assert caught.value.status == status
    assert "Traceback" not in caught.value.message


def test_unavailable_names_the_dependency_not_the_driver():
    with pytest.raises(errors.Unavailable) as caught, errors.domain_errors():
        raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server on 'x'")
    assert caught.value.dependency == "database"
    assert caught.value.reason.startswith("Can't connect")


def test_other_exceptions_pass_through():
    with pytest.raises(KeyError), errors.domain_errors():
        raise KeyError("bug")


def test_rate_limited_carries_retry_after():
    exc = errors.RateLimited(Decision(False, 100, 0, 12.5, 30.0))
    assert (exc.status, exc.retry_after) == (429, 12.5)
    assert "retry after 12.5 s" in exc.message


@pytest.mark.parametrize("value", [0, -1, 2**31, "1", 1.0, True, None])
def test_entity_id_refuses(value):
    with pytest.raises(errors.BadRequest, match="id: expected a whole number"):
        entity_id(value)


def test_checks_accept_good_values():
    assert entity_id(2**31 - 1) == 2**31 - 1
    assert bounded(5, "n", 1, 10) == 5
    assert choice("views", "by", ("views", "sales")) == "views"
    assert fields({"name": "x"}, ("name", "price"), "product") == {"name": "x"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([("name", "x")], "expected an object"),
        ({"nope": 1}, "unknown field 'nope'"),
        ({}, "name is required"),
    ],
)
def test_fields_refuses(values, message):
    with pytest.raises(errors.BadRequest, match=message):
        fields(values, ("name", "price"), "product", required=("name",))


def test_warmer_options_from_a_scheduled_event_or_its_detail():
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert options(scheduled) == {
        "products_top": 100,
        "by": "views",
        "skip_fresh": True,
        "dashboard": False,
    }
    assert options({"detail": {"products_top": 5}})["products_top"] == 5
    assert options({"products_top": 7, "by": "sales"})["by"] == "sales"
