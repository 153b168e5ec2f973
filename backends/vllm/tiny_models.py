"""Tiny random-weight models that real vLLM serves on a CPU: a Llama for generation, a BERT embedder
and a BERT cross-encoder.

vLLM started with ``--load-format dummy`` fills the weights with random numbers, so a model folder
needs only ``config.json`` and a tokenizer: nothing is downloaded. The tokenizers are trained here on
a text this module makes itself, so the same folders come out on every machine.

Run with the Python of vLLM's own environment (it has ``tokenizers``), not the gateway's::

    $VLLM_ENV/bin/python backends/vllm/tiny_models.py OUT_DIR

It writes ``OUT_DIR/generate``, ``OUT_DIR/embed`` and ``OUT_DIR/cross-encoder``.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

VOCABULARY_SIZE = 1024
# vLLM's CPU attention kernels need a head size of at least 64: 256 / 4 heads.
HIDDEN_SIZE = 256
LAYERS = 2
HEADS = 4
MAX_LENGTH = 1024

# A chat template that writes every message on its own line after its role, and opens the assistant's
# turn when asked to: enough for vLLM's chat, Responses and Messages front ends.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['content'] is string %}{% set text = message['content'] %}"
    "{% else %}{% set text = message['content'] | map(attribute='text') | join('') %}{% endif %}"
    "<|{{ message['role'] }}|>{{ text }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_WORDS = (  # noqa: SIM905 (a text reads better than a list of 130 strings)
    "le la les un une des de du et ou mais donc or ni car ministère direction service agent usager "
    "courrier demande dossier réponse délai impôt taxe déclaration formulaire paiement remboursement "
    "adresse commune région département préfecture mairie tribunal décision recours article loi décret "
    "arrêté circulaire note rapport synthèse résumé question besoin aide information document pièce "
    "the of and to in is that for it as with was on be by this are from at or an have not which "
    "request answer model token stream budget gateway policy key department usage report summary "
    "zéro un deux trois quatre cinq six sept huit neuf dix cent mille janvier février mars avril mai "
    "juin juillet août septembre octobre novembre décembre lundi mardi mercredi jeudi vendredi"
).split()


def _corpus() -> list[str]:
    """Sentences of every pair of words, with punctuation and digits: enough text for 1,024 tokens."""
    sentences = [f"{a} {b} {c}." for a, b, c in itertools.islice(itertools.product(_WORDS, repeat=3), 60000)]
    sentences += [f"{n} {w.capitalize()}, {w.upper()} ; {n * 7}!" for n, w in enumerate(_WORDS)]
    return sentences


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_generative(folder: Path) -> None:
    """A Llama with a byte-level BPE tokenizer and a chat template."""
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "</s>", "<pad>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCABULARY_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    bos, eos, pad = (tokenizer.token_to_id(token) for token in specials)
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "pad_token": "<pad>",
            "model_max_length": MAX_LENGTH,
            "add_bos_token": False,
            "chat_template": CHAT_TEMPLATE,
        },
    )
    _write_json(folder / "generation_config.json", {"bos_token_id": bos, "eos_token_id": eos})
    _write_json(
        folder / "config.json",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": tokenizer.get_vocab_size(),
            "hidden_size": HIDDEN_SIZE,
            "intermediate_size": 2 * HIDDEN_SIZE,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "num_key_value_heads": HEADS // 2,
            "max_position_embeddings": MAX_LENGTH,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": pad,
            "torch_dtype": "float32",
        },
    )


def _wordpiece_tokenizer() -> Tokenizer:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))  # noqa: S106 (a token, not a password)
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=VOCABULARY_SIZE, special_tokens=specials, show_progress=False
    )
    tokenizer.train_from_iterator(_corpus(), trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tokenizer


def build_bert(folder: Path, *, cross_encoder: bool) -> None:
    """A BERT embedder, or with ``cross_encoder`` a one-label sequence classifier (rerank, score)."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _wordpiece_tokenizer()
    tokenizer.save(str(folder / "tokenizer.json"))
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizerFast",
            "do_lower_case": True,
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "mask_token": "[MASK]",
            "model_max_length": 512,
        },
    )
    config: dict[str, Any] = {
        "architectures": ["BertForSequenceClassification" if cross_encoder else "BertModel"],
        "model_type": "bert",
        "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": HIDDEN_SIZE,
        "intermediate_size": 2 * HIDDEN_SIZE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "pad_token_id": tokenizer.token_to_id("[PAD]"),
        "torch_dtype": "float32",
    }
    if cross_encoder:
        config |= {"num_labels": 1, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
    _write_json(folder / "config.json", config)


def build_all(out: Path) -> None:
    build_generative(out / "generate")
    build_bert(out / "embed", cross_encoder=False)
    build_bert(out / "cross-encoder", cross_encoder=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_models.py OUT_DIR")
    build_all(Path(sys.argv[1]))
