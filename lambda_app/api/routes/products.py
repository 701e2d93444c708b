"""Products: cache-aside reads (negative-cached 404s), the cached top-N query, writes
that refresh the cached entry."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from lambda_app.api.deps import cached, created, no_content, services
from lambda_app.api.models import (
    MAX_TOP,
    Product,
    ProductIn,
    ProductList,
    ProductPatch,
    ProductReplace,
)
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router
from lambda_app.api.routes.params import PathId

router = new_router()
TAGS = ["products"]


@router.get(
    "/products/<id>",
    summary="A product (cache-aside)",
    tags=TAGS,
    responses=responses(200, "The product", 400, 404, 503, cached=True),
)
def get_product(id: PathId) -> Response[Product]:
    # ``int``: the request validation lets a canonical id through as the path's text
    # (``api.middlewares._RequestValidation``); anything else arrives validated.
    product_id = int(id)
    return cached(services().products.get(product_id), "product", product_id)


@router.get(
    "/products",
    summary="The top N products by views (cached query)",
    tags=TAGS,
    responses=responses(200, "Products, most viewed first", 400, 503, cached=True),
)
def top_products(
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="how many")] = 10,
) -> Response[ProductList]:
    lookup = services().products.top(top)
    items = lookup.value
    return cached(lookup, "top products", top, body={"items": items, "count": len(items)})


@router.post(
    "/products",
    summary="Create a product",
    tags=TAGS,
    status_code=201,
    responses=responses(201, "The new product", 400, 413, 415, 503),
)
def create_product(product: ProductIn) -> Response[Product]:
    new = Product.model_validate(services().products.create(product.model_dump()))
    return created(new, location=f"/products/{new.id}")


@router.put(
    "/products/<id>",
    summary="Replace a product with the representation GET returns (cache refreshed)",
    tags=TAGS,
    responses=responses(200, "The updated product", 400, 404, 413, 415, 503),
)
def replace_product(id: PathId, product: ProductReplace) -> Product:
    return Product.model_validate(services().products.update(id, product.values()))


@router.patch(
    "/products/<id>",
    summary="Change some fields of a product (merge; cache refreshed)",
    tags=TAGS,
    responses=responses(200, "The updated product", 400, 404, 413, 415, 503),
)
def patch_product(id: PathId, changes: ProductPatch) -> Product:
    return Product.model_validate(services().products.update(id, changes.changes()))


@router.delete(
    "/products/<id>",
    summary="Delete a product (and its cached entry)",
    tags=TAGS,
    responses=responses(204, "Deleted", 400, 404, 503, body=False),
)
def delete_product(id: PathId) -> Response[None]:
    services().products.delete(id)
    return no_content()
