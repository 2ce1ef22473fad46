"""Our Google API discovery document for ``commentanalyzer`` ``v1alpha1``: the two methods
this service answers, with ``rootUrl`` pointing here, so that Google's client libraries
(built from discovery at run time) call us with nothing changed but
``discoveryServiceUrl``. It follows the shape of Google's own discovery documents
(``discovery#restDescription``), trimmed to what we implement."""

from __future__ import annotations

from typing import Any

VERSION = "v1alpha1"
SERVICE_PATH = "perspective/"


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": name}


SCHEMAS: dict[str, Any] = {
    "TextEntry": {
        "id": "TextEntry",
        "type": "object",
        "description": "Represents a body of text.",
        "properties": {
            "text": _string("UTF-8 encoded text, at most 20 KB."),
            "type": {
                "type": "string",
                "description": "Type of the text. Only PLAIN_TEXT is supported.",
                "enum": ["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"],
            },
        },
    },
    "ArticleAndParentComment": {
        "id": "ArticleAndParentComment",
        "type": "object",
        "description": "The article and the comment replied to (accepted, not used).",
        "properties": {"article": _ref("TextEntry"), "parentComment": _ref("TextEntry")},
    },
    "Context": {
        "id": "Context",
        "type": "object",
        "description": "Context of the comment (accepted, not used for scoring).",
        "properties": {
            "entries": {"type": "array", "items": _ref("TextEntry")},
            "articleAndParentComment": _ref("ArticleAndParentComment"),
        },
    },
    "AttributeParameters": {
        "id": "AttributeParameters",
        "type": "object",
        "description": "Configures one requested attribute.",
        "properties": {
            "scoreType": {
                "type": "string",
                "description": "Only PROBABILITY is supported.",
                "enum": ["SCORE_TYPE_UNSPECIFIED", "PROBABILITY"],
            },
            "scoreThreshold": {
                "type": "number",
                "format": "float",
                "description": "Scores below this threshold are not returned.",
            },
        },
    },
    "Score": {
        "id": "Score",
        "type": "object",
        "description": "A score for an attribute.",
        "properties": {
            "value": {"type": "number", "format": "float"},
            "type": {"type": "string", "enum": ["SCORE_TYPE_UNSPECIFIED", "PROBABILITY"]},
        },
    },
    "SpanScore": {
        "id": "SpanScore",
        "type": "object",
        "description": "The score of a span of the comment (character offsets).",
        "properties": {
            "begin": {"type": "integer", "format": "int32"},
            "end": {"type": "integer", "format": "int32"},
            "score": _ref("Score"),
        },
    },
    "AttributeScores": {
        "id": "AttributeScores",
        "type": "object",
        "description": "The scores of one attribute for the comment and its spans.",
        "properties": {
            "summaryScore": _ref("Score"),
            "spanScores": {"type": "array", "items": _ref("SpanScore")},
        },
    },
    "AnalyzeCommentRequest": {
        "id": "AnalyzeCommentRequest",
        "type": "object",
        "description": "The comment analysis request message.",
        "properties": {
            "comment": _ref("TextEntry"),
            "context": _ref("Context"),
            "requestedAttributes": {
                "type": "object",
                "description": "Attribute name (e.g. TOXICITY) to its parameters.",
                "additionalProperties": _ref("AttributeParameters"),
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "doNotStore": {"type": "boolean"},
            "spanAnnotations": {"type": "boolean"},
            "dropUnsupportedAttributes": {"type": "boolean"},
            "clientToken": _string("Opaque token echoed in the response."),
            "communityId": _string("The client's community."),
            "sessionId": _string("Session ID (accepted, not used)."),
        },
    },
    "AnalyzeCommentResponse": {
        "id": "AnalyzeCommentResponse",
        "type": "object",
        "description": "The comment analysis response message.",
        "properties": {
            "attributeScores": {
                "type": "object",
                "additionalProperties": _ref("AttributeScores"),
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "detectedLanguages": {"type": "array", "items": {"type": "string"}},
            "clientToken": {"type": "string"},
        },
    },
    "SuggestCommentScoreRequest": {
        "id": "SuggestCommentScoreRequest",
        "type": "object",
        "description": "A suggested score for a comment, kept as feedback for the site.",
        "properties": {
            "comment": _ref("TextEntry"),
            "context": _ref("Context"),
            "attributeScores": {
                "type": "object",
                "additionalProperties": _ref("AttributeScores"),
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "clientToken": {"type": "string"},
            "communityId": {"type": "string"},
            "sessionId": {"type": "string"},
        },
    },
    "SuggestCommentScoreResponse": {
        "id": "SuggestCommentScoreResponse",
        "type": "object",
        "description": "Echoes the request's clientToken.",
        "properties": {
            "clientToken": {"type": "string"},
            "requestedLanguages": {"type": "array", "items": {"type": "string"}},
            "detectedLanguages": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def _method(name: str, request: str, response: str, description: str) -> dict[str, Any]:
    path = f"{VERSION}/comments:{name}"
    return {
        "id": f"commentanalyzer.comments.{name}",
        "description": description,
        "httpMethod": "POST",
        "path": path,
        "flatPath": path,
        "parameters": {},
        "parameterOrder": [],
        "request": _ref(request),
        "response": _ref(response),
    }


def build_document(root_url: str) -> dict[str, Any]:
    """The discovery document, with ``rootUrl`` set to this service's root URL (ending
    in a slash, as the clients expect)."""
    if not root_url.endswith("/"):
        root_url += "/"
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{VERSION}",
        "name": "commentanalyzer",
        "canonicalName": "Comment Analyzer",
        "version": VERSION,
        "title": "Perspective Comment Analyzer API (self-hosted, compatible subset)",
        "description": (
            "Scores comments with this service's own model in the request and response "
            "shape of Google's Perspective API."
        ),
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": SERVICE_PATH,
        "baseUrl": root_url + SERVICE_PATH,
        "basePath": "/" + SERVICE_PATH,
        "batchPath": "batch",
        "parameters": {
            "key": {
                "type": "string",
                "location": "query",
                "description": "API key: a scoring key made by this service's admins.",
            },
            "alt": {
                "type": "string",
                "location": "query",
                "default": "json",
                "enum": ["json"],
                "description": "Data format for response.",
            },
        },
        "schemas": SCHEMAS,
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze",
                        "AnalyzeCommentRequest",
                        "AnalyzeCommentResponse",
                        "Analyzes the provided text and returns scores for requested attributes.",
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Suggest comment scores as training data.",
                    ),
                }
            }
        },
    }
