"""The API reference, read from the server's own OpenAPI document: one view of it that both the
`/docs` page (HTML) and `docs/api.md` (Markdown, written by scripts/gen-docs) render, so the
two say the same and neither can drift from the routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

S = dict[str, Any]
TypePart = tuple[str, str | None]  # (text, anchor of the schema it names, if any)

METHOD_ORDER = ("get", "post", "put", "patch", "delete")
_CONSTRAINTS = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minimum", "at least {}"),
    ("exclusiveMinimum", "more than {}"),
    ("maximum", "at most {}"),
    ("pattern", "matches `{}`"),
)


def anchor(*parts: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts if p)


@dataclass(frozen=True)
class Field:
    name: str
    type: list[TypePart]
    required: bool
    notes: str


@dataclass(frozen=True)
class Body:
    media_type: str
    type: list[TypePart]
    fields: list[Field]  # an inline object's fields; empty for a named schema or a scalar
    notes: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    type: list[TypePart]
    required: bool
    notes: str


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    bodies: list[Body]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    authenticated: bool
    parameters: list[Parameter]
    request: list[Body]
    request_required: bool
    responses: list[Response]

    @property
    def anchor(self) -> str:
        return anchor(self.method, self.path)


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    type: list[TypePart]
    fields: list[Field]

    @property
    def anchor(self) -> str:
        return anchor("schema", self.name)


@dataclass
class ApiDoc:
    title: str
    version: str
    description: str
    server_url: str
    groups: list[tuple[str, list[Operation]]] = field(default_factory=list)
    schemas: list[Schema] = field(default_factory=list)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_parts(schema: S) -> list[TypePart]:
    """A schema's type as short text, schema names kept apart so renderers can link them."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return [(name, anchor("schema", name))]
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    parts: list[TypePart] = []
    for index, kind in enumerate(kinds):
        if index:
            parts.append((" or ", None))
        if kind == "array":
            parts += [("array of ", None), *type_parts(schema.get("items", {}))]
        elif kind == "object" and schema.get("properties") and index == 0:
            names = ", ".join(schema["properties"])
            parts.append((f"object {{{names}}}", None))
        elif kind != "null" and schema.get("format"):
            parts.append((f"{kind} ({schema['format']})", None))
        else:
            parts.append((str(kind), None))
    return parts


def plain(parts: list[TypePart]) -> str:
    return "".join(text for text, _ in parts)


def notes(schema: S) -> str:
    """Description, then allowed values, constraints and default, as one sentence each."""
    out = [schema.get("description", "").strip()]
    enum = [v for v in schema.get("enum", []) if v is not None]
    if enum:
        out.append("One of " + ", ".join(f"`{v}`" for v in enum) + ".")
    limits = [
        re.sub(r"\b1 characters", "1 character", text.format(schema[key]))
        for key, text in _CONSTRAINTS
        if key in schema
    ]
    if limits:
        out.append(limits[0][0].upper() + "; ".join(limits)[1:] + ".")
    if schema.get("writeOnly"):
        out.append("Write-only: never returned.")
    if schema.get("additionalProperties") is False:
        out.append("Other keys are refused.")
    if "default" in schema:
        out.append(f"Default `{schema['default']}`.")
    if "example" in schema:
        out.append(f"Example `{schema['example']}`.")
    return " ".join(part for part in out if part)


def fields_of(schema: S) -> list[Field]:
    required = set(schema.get("required", []))
    return [
        Field(name, type_parts(prop), name in required, notes(prop))
        for name, prop in schema.get("properties", {}).items()
    ]


def _bodies(content: S) -> list[Body]:
    bodies = []
    for media_type, media in content.items():
        schema = media.get("schema", {})
        if "$ref" not in schema and schema.get("properties"):
            bare = {k: v for k, v in schema.items() if k != "properties"}
            bodies.append(Body(media_type, type_parts(bare), fields_of(schema), notes(schema)))
        else:
            bodies.append(Body(media_type, type_parts(schema), [], notes(schema)))
    return bodies


def _operation(path: str, method: str, op: S, default_security: list[Any]) -> Operation:
    request = op.get("requestBody", {})
    responses = [
        Response(status, spec.get("description", ""), _bodies(spec.get("content", {})))
        for status, spec in sorted(op.get("responses", {}).items())
    ]
    parameters = [
        Parameter(
            p["name"],
            p["in"],
            type_parts(p.get("schema", {})),
            bool(p.get("required")),
            notes({**p.get("schema", {}), "description": p.get("description", "")}),
        )
        for p in op.get("parameters", [])
    ]
    return Operation(
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        description=op.get("description", ""),
        authenticated=bool(op.get("security", default_security)),
        parameters=parameters,
        request=_bodies(request.get("content", {})),
        request_required=bool(request.get("required")),
        responses=responses,
    )


def describe(document: S) -> ApiDoc:
    """The view of an OpenAPI 3.1 document the renderers need, in a stable order: tags as
    first met, paths as declared, methods GET, POST, PUT, PATCH, DELETE; schemas by name."""
    info = document.get("info", {})
    servers = document.get("servers") or [{"url": ""}]
    doc = ApiDoc(
        info.get("title", "API"),
        info.get("version", ""),
        info.get("description", ""),
        servers[0]["url"],
    )
    default_security = document.get("security", [])
    groups: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHOD_ORDER:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["Other"])[0]
                groups.setdefault(tag, []).append(_operation(path, method, op, default_security))
    doc.groups = list(groups.items())
    schemas = document.get("components", {}).get("schemas", {})
    doc.schemas = [
        Schema(
            name,
            schemas[name].get("description", ""),
            type_parts({k: v for k, v in schemas[name].items() if k != "properties"}),
            fields_of(schemas[name]),
        )
        for name in sorted(schemas)
    ]
    return doc


# --- Markdown (docs/api.md) ---

MARKDOWN_HEADER = """\
<!-- Generated by scripts/gen-docs from the server's OpenAPI document (ckrv/server/apidocs/paths/).
     Do not edit: change the paths modules and run scripts/gen-docs again.
     tests/unit/test_generated_docs.py fails when this file is out of date. -->
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip() or " "


def md_type(parts: list[TypePart]) -> str:
    return "".join(f"[{text}](#{link})" if link else text for text, link in parts)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _field_rows(fields: list[Field]) -> list[list[str]]:
    return [
        [f"`{f.name}`", md_type(f.type), "yes" if f.required else "no", f.notes] for f in fields
    ]


def _md_operation(op: Operation) -> list[str]:
    out = [
        f'<a id="{op.anchor}"></a>',
        "",
        f"### `{op.method} {op.path}`",
        "",
        op.summary + ".",
        "",
    ]
    if op.description:
        out += [op.description, ""]
    out += ["Authentication: bearer token." if op.authenticated else "No authentication.", ""]
    if op.parameters:
        rows = [
            [f"`{p.name}`", p.location, md_type(p.type), "yes" if p.required else "no", p.notes]
            for p in op.parameters
        ]
        out += ["Parameters:", "", *_table(["Name", "In", "Type", "Required", "Notes"], rows)]
    for body in op.request:
        need = "required" if op.request_required else "optional"
        note = f" {body.notes}" if body.notes else ""
        out += [f"Request body (`{body.media_type}`, {need}): {md_type(body.type)}.{note}", ""]
        if body.fields:
            out += _table(["Field", "Type", "Required", "Notes"], _field_rows(body.fields))
    rows = []
    for response in op.responses:
        shapes = "; ".join(f"{md_type(b.type)} (`{b.media_type}`)" for b in response.bodies)
        rows.append([f"`{response.status}`", response.description, shapes or "none"])
    out += ["Responses:", "", *_table(["Status", "Description", "Body"], rows)]
    return out


def markdown(doc: ApiDoc) -> str:
    """docs/api.md: the whole reference as GitHub-flavoured Markdown."""
    out = [
        MARKDOWN_HEADER,
        f"# {doc.title} reference",
        "",
        f"Version {doc.version}. {doc.description}",
        "",
    ]
    out += [
        f"- Base URL: `{doc.server_url}` (a server's public URL followed by `/v1`).",
        "- Authentication: `Authorization: Bearer TOKEN`, with an access token from the device "
        "flow (`ckrv cloud login`) or an API token (`ckrv admin token create`); worker routes "
        "take the job token the executor gives each worker.",
        '- Errors are JSON: `{"error": CODE, "message": TEXT}`.',
        "- A running server serves this reference at `/docs` and the OpenAPI document at "
        "`/v1/openapi.json`.",
        "",
        "## Contents",
        "",
    ]
    for tag, ops in doc.groups:
        links = ", ".join(f"[`{op.method} {op.path}`](#{op.anchor})" for op in ops)
        out.append(f"- **{tag}**: {links}")
    out += ["- [Schemas](#schemas)", ""]
    for tag, ops in doc.groups:
        out += [f"## {tag}", ""]
        for op in ops:
            out += _md_operation(op)
    out += ['<a id="schemas"></a>', "", "## Schemas", ""]
    for schema in doc.schemas:
        out += [f'<a id="{schema.anchor}"></a>', "", f"### {schema.name}", ""]
        if schema.description:
            out += [schema.description, ""]
        if schema.fields:
            out += _table(["Field", "Type", "Required", "Notes"], _field_rows(schema.fields))
        else:
            out += [f"Type: {md_type(schema.type)}.", ""]
    return "\n".join(out).rstrip() + "\n"
