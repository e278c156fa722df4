"""`/docs` served from this machine: Swagger UI's script and style come from the fastapi-swagger
package (Swagger UI 5, which renders OpenAPI 3.1) through routes of this server, not from a CDN,
so the page works offline and the browser fetches nothing from elsewhere (its validator badge,
which calls validator.swagger.io, is off)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}


def add_docs(app: FastAPI, path: str = "/docs") -> None:
    """The Swagger UI page at `path` and its files under `path`/assets/ (create the app with `docs_url=None`)."""

    @app.get(path, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{path}/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{path}/assets/swagger-ui.css",
            swagger_favicon_url=f"{path}/assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(path + "/assets/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, f"no such documentation file: {name}")
        body = files("fastapi_swagger.resources").joinpath(name).read_bytes()
        return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})
