"""The zoo tokenizer: a byte-level BPE trained on tinyworld text, wrapped as a fast tokenizer.

Training is reproducible: the same corpus and settings give the same ``tokenizer.json`` bytes,
so the file is cached under ``ZOO_HOME`` by a fingerprint of its inputs and can be rebuilt
anywhere. Zoo checkpoints ship their tokenizer files, so loading a model never retrains one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from datamodules.tinyworld import WorldConfig, generate_world, world_fingerprint
from zoo.errors import ZooError
from zoo.paths import atomic_write_text, cache_dir

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
SPECIAL_TOKENS = [PAD, BOS, EOS]
#: Bump when the training procedure changes, so cached tokenizers are rebuilt.
TOKENIZER_VERSION = 2
#: The worlds the shared tokenizer learns from, fixed: a new tinyworld domain must not silently
#: change every zoo model's vocabulary (adding one here is a deliberate, versioned change).
TOKENIZER_DOMAINS = ("biomed", "finance", "general", "law")


def train_bpe(texts: Iterable[str], vocab_size: int = 1536, min_frequency: int = 2) -> str:
    """Train a byte-level BPE on ``texts`` and return its ``tokenizer.json`` as a string.

    Args:
        texts: The training corpus, in a fixed order (the order is part of the result).
        vocab_size: Target vocabulary size, special tokens included.
        min_frequency: Minimum count of a pair to be merged.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    # Like Llama's tokenizer, encoding adds bos (add_special_tokens=False leaves it out): documents were
    # trained with bos in front, so plain `tokenizer(text)` callers (transformers, lm-eval) see the same.
    tokenizer.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                      special_tokens=[(BOS, tokenizer.token_to_id(BOS))]),
    ])
    return tokenizer.to_str(pretty=False)


def wrap_fast_tokenizer(tokenizer_json: str):
    """Wrap a ``tokenizer.json`` string as a ``PreTrainedTokenizerFast`` with bos/eos/pad set."""
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tokenizer_json),
        bos_token=BOS, eos_token=EOS, pad_token=PAD, model_max_length=1 << 20,
        clean_up_tokenization_spaces=False,
    )


def tinyworld_corpus(domains: Iterable[str], seed: int) -> list[str]:
    """The tokenizer's training corpus: every text of the default world of each domain."""
    texts: list[str] = []
    for domain in domains:
        world = generate_world(domain=domain, seed=seed)
        texts += world.texts("documents") + world.texts("qa_text")
    return texts


def tinyworld_tokenizer(domains: Iterable[str] | None = None, seed: int = 0, vocab_size: int = 1536):
    """The shared zoo tokenizer, trained on tinyworld text and cached by fingerprint.

    Args:
        domains: tinyworld domains in the corpus; default ``TOKENIZER_DOMAINS``, so that continued
            pre-training on any of those domains keeps the base model's vocabulary.
        seed: World seed of the corpus.
        vocab_size: BPE vocabulary size.
    """
    domains = sorted(domains or TOKENIZER_DOMAINS)
    key = json.dumps({
        "version": TOKENIZER_VERSION, "vocab_size": vocab_size, "seed": seed,
        "worlds": [world_fingerprint(WorldConfig(domain=d, seed=seed)) for d in domains],
    }, sort_keys=True)
    path = cache_dir("tokenizers") / hashlib.sha256(key.encode()).hexdigest()[:16] / "tokenizer.json"
    if not path.exists():
        atomic_write_text(path, train_bpe(tinyworld_corpus(domains, seed), vocab_size=vocab_size))
    return wrap_fast_tokenizer(path.read_text(encoding="utf-8"))


def load_tokenizer(spec: str):
    """Resolve a tokenizer spec.

    Args:
        spec: ``tinyworld`` (the shared zoo tokenizer), a folder or ``tokenizer.json`` file,
            a zoo model's name (its folder's tokenizer, e.g. ``minilm-l6-v2``) or ``hf-hub:org/name``
            (needs the hub).
    """
    if spec == "tinyworld":
        return tinyworld_tokenizer()
    if spec.startswith("hf-hub:"):
        try:
            return AutoTokenizer.from_pretrained(spec.removeprefix("hf-hub:"))
        except OSError as error:
            raise ZooError(f"cannot load tokenizer {spec}: {str(error).splitlines()[0]} "
                           "(offline? download it and pass its folder instead)") from None
    path = Path(spec.removeprefix("local-dir:")).expanduser()
    if not path.exists() and not spec.startswith("local-dir:") and "/" not in spec:
        from zoo.resolve import resolve  # a zoo model's name (minilm-l6-v2): its folder's tokenizer

        path = resolve(spec)
    if path.is_file() and path.name.endswith(".json"):
        return wrap_fast_tokenizer(path.read_text(encoding="utf-8"))
    if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(path))
    raise ZooError(f"tokenizer '{spec}' not found: pass 'tinyworld', a folder with tokenizer.json, "
                   "a tokenizer.json file or hf-hub:org/name")


def tokenizer_json(tokenizer) -> str:
    """The canonical JSON of a fast tokenizer (its identity for caches and checkpoints)."""
    return tokenizer.backend_tokenizer.to_str(pretty=False)


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 of the tokenizer's canonical JSON."""
    return hashlib.sha256(tokenizer_json(tokenizer).encode()).hexdigest()
