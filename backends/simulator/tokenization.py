"""``POST /tokenize`` and ``POST /detokenize`` with the simulator's tokenizer."""

from __future__ import annotations

import msgspec

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.chat_template import render_chat_prompt
from backends.simulator.engine import Engine
from backends.simulator.protocol import DetokenizeRequest, TokenizeRequest, decode_request
from backends.simulator.serving import HTTPRequest, encode_json
from backends.simulator.vocabulary import BOS_PIECE


def _check_model(engine: Engine, model: str | None) -> None:
    settings = engine.settings
    served = settings.served_models
    if model and model not in served:
        raise errors.model_not_found(model, served)


async def serve_tokenize(engine: Engine, http: HTTPRequest) -> None:
    """Token ids of a prompt, or of chat messages rendered through the chat template."""
    request = decode_request(http.body, TokenizeRequest)
    if request.messages is None and request.prompt is None:
        # vLLM's request is a union of a completion-style and a chat-style body: both fail.
        document = _document(http.body)
        raise errors.request_validation_failed(
            [
                {"type": "missing", "loc": ("body", field), "msg": "Field required", "input": document}
                for field in ("prompt", "messages")
            ]
        )
    _check_model(engine, request.model)
    tokenizer = engine.tokenizer
    if request.messages is not None:
        text = render_chat_prompt(request.messages, add_generation_prompt=request.add_generation_prompt)
        add_bos = False  # the chat template already starts with it
    else:
        text = request.prompt or ""
        add_bos = request.add_special_tokens
    tokens = tokenizer.encode(text, add_bos=add_bos)
    token_strs = (
        [tokenizer.id_to_piece(token_id) for token_id in tokens] if request.return_token_strs else None
    )
    body = encode_json(
        {
            "count": len(tokens),
            "max_model_len": engine.settings.max_model_len,
            "tokens": tokens,
            "token_strs": token_strs,
        }
    )
    await send_response(http.send, 200, body)


async def serve_detokenize(engine: Engine, http: HTTPRequest) -> None:
    """Text of token ids (the beginning-of-sequence token is skipped, as ``skip_special_tokens`` does);
    a negative id is a schema error, an id past the vocabulary decodes to nothing, as in vLLM."""
    request = decode_request(http.body, DetokenizeRequest)
    for index, token_id in enumerate(request.tokens):
        if token_id < 0:
            raise errors.request_validation_failed(
                [
                    {
                        "type": "greater_than_equal",
                        "loc": ("body", "tokens", index),
                        "msg": "Input should be greater than or equal to 0",
                        "input": token_id,
                        "ctx": {"ge": 0},
                    }
                ]
            )
    _check_model(engine, request.model)
    tokenizer = engine.tokenizer
    text = tokenizer.decode([token_id for token_id in request.tokens if token_id < tokenizer.vocab_size])
    text = text.removeprefix(BOS_PIECE)
    await send_response(http.send, 200, encode_json({"prompt": text}))


def _document(body: bytes) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
