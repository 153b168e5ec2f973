"""``POST /tokenize`` and ``POST /detokenize`` with the simulator's tokenizer."""

from __future__ import annotations

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.chat_template import render_chat_prompt
from backends.simulator.engine import Engine
from backends.simulator.protocol import DetokenizeRequest, TokenizeRequest, decode_request
from backends.simulator.serving import HTTPRequest, encode_json
from backends.simulator.vocabulary import BOS_PIECE


def _check_model(engine: Engine, model: str | None) -> None:
    settings = engine.settings
    if model and model not in settings.models and model not in settings.embedding_models:
        raise errors.model_not_found(model)


async def serve_tokenize(engine: Engine, http: HTTPRequest) -> None:
    """Token ids of a prompt, or of chat messages rendered through the chat template."""
    request = decode_request(http.body, TokenizeRequest)
    _check_model(engine, request.model)
    tokenizer = engine.tokenizer
    if request.messages is not None:
        text = render_chat_prompt(request.messages, add_generation_prompt=request.add_generation_prompt)
        add_bos = False  # the chat template already starts with it
    elif request.prompt is not None:
        text = request.prompt
        add_bos = request.add_special_tokens
    else:
        raise errors.bad_request("Either `prompt` or `messages` must be provided.")
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
    """Text of token ids (the beginning-of-sequence token is skipped, as ``skip_special_tokens`` does)."""
    request = decode_request(http.body, DetokenizeRequest)
    _check_model(engine, request.model)
    tokenizer = engine.tokenizer
    for token_id in request.tokens:
        if not 0 <= token_id < tokenizer.vocab_size:
            raise errors.bad_request(f"Token id {token_id} is out of vocabulary", "tokens", token_id)
    text = tokenizer.decode(request.tokens)
    text = text.removeprefix(BOS_PIECE)
    await send_response(http.send, 200, encode_json({"prompt": text}))
