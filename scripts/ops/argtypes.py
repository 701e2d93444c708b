"""argparse ``type=`` converters: bad values become one usage line (exit code 2)."""

from __future__ import annotations

import argparse
import math

from lambda_app.numbers import is_whole, whole_expected
from scripts.ops.errors import UsageError
from scripts.ops.http import parse_base_url
from scripts.ops.project import load_project


def base_url(text: str) -> str:
    try:
        return parse_base_url(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def env_name(text: str) -> str:
    try:
        return load_project().check_env(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    return _whole(text, minimum=1)


def _whole(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not is_whole(value, minimum):
        raise argparse.ArgumentTypeError(f"expected {whole_expected(minimum)}, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction within 0..1, got {text}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def email(text: str) -> str:
    """An alarm subscriber, checked by the stack config's own rule."""
    from pydantic import ValidationError

    from infra.config.sections import MonitoringConfig

    try:
        MonitoringConfig(alarm_email=text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"expected an e-mail address, got {text!r}") from None
    return text
