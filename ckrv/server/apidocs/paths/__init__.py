"""The API's OpenAPI description, one module per routes module (routes/X.py is described by
paths/X.py), each exporting `openapi_paths` and, when it has its own, `openapi_schemas`.
Route modules hold only handlers; apidocs/openapi.py assembles these into the document."""
