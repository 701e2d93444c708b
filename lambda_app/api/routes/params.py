"""Path parameters shared by the routers."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from lambda_app.data.schema import MAX_ID

#: Ids are MySQL INT: positive, at most 2147483647.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive integer id")]
