"""The API described: the server's own OpenAPI document and what is rendered from it.

openapi.py         the document, assembled from each route module's `openapi_paths`
reference.py       one view of it for the /docs page and docs/api.md
generated_docs.py  `scripts/gen-docs`: the README's config reference and docs/api.md
"""
