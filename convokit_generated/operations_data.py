"""openapi.yaml's operations as data, every $ref resolved: their parameters with
their schemas, request body schema and examples, and each documented response with
its schema and examples. Written by scripts/regen.sh; never edit by hand."""

from typing import Any, Final

OPERATIONS: Final[dict[str, dict[str, Any]]] = {
    "create_chat": {
        "operation_id": "createChat",
        "method": "POST",
        "path": "/v1/chat",
        "summary": "Send a message and get the AI's reply",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            }
        ],
        "body": {
            "content_type": "application/json",
            "required": True,
            "schema": {
                "type": "object",
                "description": "One user message, with optional threading and context.",
                "required": ["message"],
                "additionalProperties": False,
                "properties": {
                    "message": {
                        "type": "string",
                        "minLength": 1,
                        "pattern": "\\S",
                        "description": "The user message to send (not blank).",
                    },
                    "conversationId": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Use for follow-up messages in the same thread (the `conversation_id` of an earlier reply).",
                    },
                    "widgetId": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Identifier for grouping (e.g. bot name, channel).",
                    },
                    "instanceId": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The bot instance that answers (e.g. `my-bot`).",
                    },
                    "chatHistory": {
                        "type": "array",
                        "description": "Previous messages for context. When you have a `conversationId` you can\nomit it: the backend already has the thread.\n",
                        "items": {
                            "type": "object",
                            "description": "One earlier turn of the conversation.",
                            "required": ["role", "content"],
                            "additionalProperties": False,
                            "properties": {
                                "role": {
                                    "type": "string",
                                    "enum": ["user", "assistant", "system"],
                                    "description": "Who said it.",
                                },
                                "content": {"type": "string", "description": "What was said."},
                            },
                        },
                    },
                },
            },
            "examples": [
                {"message": "What are your support hours?"},
                {"message": "And on weekends?", "conversationId": "conv_7f3a9c2e"},
                {
                    "message": "What did I just ask?",
                    "instanceId": "my-bot",
                    "chatHistory": [
                        {"role": "user", "content": "What are your support hours?"},
                        {"role": "assistant", "content": "We are open 9am–5pm Monday to Friday."},
                    ],
                },
            ],
        },
        "responses": {
            "200": {
                "description": "The AI's reply.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The AI's reply. New fields may be added; clients must ignore those they do not know.",
                    "required": ["reply", "conversation_id", "usage"],
                    "properties": {
                        "reply": {"type": "string", "description": "AI reply text."},
                        "conversation_id": {
                            "type": "string",
                            "description": "Pass this as `conversationId` in the next message to continue the thread.",
                        },
                        "usage": {
                            "type": "object",
                            "description": "Token usage of this turn.",
                            "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
                            "properties": {
                                "prompt_tokens": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "Tokens read (the message and its context).",
                                },
                                "completion_tokens": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "Tokens of the reply.",
                                },
                                "total_tokens": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "prompt_tokens + completion_tokens.",
                                },
                            },
                        },
                    },
                },
                "examples": [
                    {
                        "reply": "We are open 9am–5pm Monday to Friday.",
                        "conversation_id": "conv_7f3a9c2e",
                        "usage": {"prompt_tokens": 12, "completion_tokens": 11, "total_tokens": 23},
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "400": {
                "description": "The request is malformed (not JSON, or a field has the wrong type or is missing).",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "message: must be a non-empty string",
                            "code": "invalid_value",
                            "param": "message",
                        }
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "401": {
                "description": "The API key is missing, malformed, revoked, or not a secret key.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "authentication_error",
                            "message": "Invalid API key. Use a secret key (sk_live_... or sk_test_...).",
                            "code": "invalid_api_key",
                        }
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "403": {
                "description": "The key is valid but may not use this widget or instance.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "permission_error",
                            "message": "This key may not use instance 'my-bot'.",
                            "param": "instanceId",
                        }
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "404": {
                "description": "The conversation does not exist (unknown `conversationId`).",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "not_found_error",
                            "message": "No conversation with id 'conv_unknown'.",
                            "code": "conversation_not_found",
                            "param": "conversationId",
                        }
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "409": {
                "description": "An `Idempotency-Key` conflict; `error.code` says which one:\n\n- `idempotency_key_in_use`: the key's first request is still in progress.\n  Retry later with the same key and body: the stored answer is replayed\n  once that request completes.\n- `idempotency_key_reused`: the key was already used with a different\n  request body. Retrying cannot succeed; send a new message with a new key.\n",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "A request with this Idempotency-Key is still in progress. Retry after it completes.",
                            "code": "idempotency_key_in_use",
                        }
                    },
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "This Idempotency-Key was used with a different request body.",
                            "code": "idempotency_key_reused",
                        }
                    },
                ],
                "headers": ["X-Request-Id"],
            },
            "413": {
                "description": "The request body is too large.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [{"error": {"type": "request_too_large", "message": "The request body exceeds 1 MiB."}}],
                "headers": ["X-Request-Id"],
            },
            "422": {
                "description": "The request is well-formed but cannot be processed (e.g. the message is too long for the model).",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "The conversation is too long for the model's context window.",
                            "code": "context_length_exceeded",
                        }
                    }
                ],
                "headers": ["X-Request-Id"],
            },
            "429": {
                "description": "Too many requests. Wait `Retry-After` seconds.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {"error": {"type": "rate_limit_error", "message": "Rate limit exceeded. Retry after 2 seconds."}}
                ],
                "headers": ["Retry-After", "X-Request-Id"],
            },
            "500": {
                "description": "Something went wrong on ConvoKit's side. Safe to retry with the same Idempotency-Key.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [{"error": {"type": "api_error", "message": "An internal error occurred."}}],
                "headers": ["X-Request-Id"],
            },
            "503": {
                "description": "ConvoKit is temporarily overloaded or down. Wait `Retry-After` seconds.",
                "content_type": "application/json",
                "schema": {
                    "type": "object",
                    "description": "The body of every error response.",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "description": "The kind of error: `invalid_request_error`, `authentication_error`,\n`permission_error`, `not_found_error`, `idempotency_error`,\n`request_too_large`, `rate_limit_error`, `api_error`, `overloaded_error`.\nNew kinds may be added.\n",
                                },
                                "message": {"type": "string", "description": "A human-readable explanation."},
                                "code": {
                                    "type": "string",
                                    "description": "A machine-readable detail, when there is one.",
                                },
                                "param": {
                                    "type": "string",
                                    "description": "The request field at fault, when there is one (wire name).",
                                },
                            },
                        }
                    },
                },
                "examples": [
                    {"error": {"type": "overloaded_error", "message": "The service is temporarily overloaded."}}
                ],
                "headers": ["Retry-After", "X-Request-Id"],
            },
        },
    }
}
