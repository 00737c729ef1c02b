"""ToEdit token editing: resample the tokens a frozen prior LM finds too easy, drop the ones it finds absurd.

Zhu et al., "How to Synthesize Text Data without Model Collapse?" (ICML 2025); see
``shared/specs/toedit.md``. For each document (tokenized with the prior's tokenizer, truncated
to its window):

1. One forward pass of the frozen prior gives, at every position ``i >= 1``, the probability
   ``p_i`` of the actual token (from the logits at ``i - 1``) and the top-K candidates there.
2. ``replace``: a token with ``p_i > threshold`` is replaced by a sample from the top-K
   candidates with probabilities ``softmax(topk_logprobs / beta)`` (the original token is one of
   them, so a "replaced" token may come back unchanged). ``replace_delete`` also deletes tokens
   with ``p_i < delete_below``; ``delete`` only deletes. Position 0 is always kept.
3. The kept tokens are decoded with special tokens skipped, and the share of edited tokens
   (changed or deleted) is reported.

Everything after the forward is a handful of batched tensor operations (no per-token loop), so
the cost is that of the prior's forward. Sampling is keyed: the uniform behind position ``t`` of
a row is a hash of ``(seed, row content, t)`` (:func:`keyed_uniform`), so given the same logits a
row gets the same edits whatever batch it lands in, however much padding it gets, and in any
process. (The prior's logits themselves may differ in the last bits with the padding; that moves
an edit only when a probability sits on the threshold or a uniform on a CDF step.)

Deviations from upstream, on purpose: sampling uses a content-keyed counter-based hash instead
of a global torch generator (upstream's edits depend on batch order); the top-K candidates may
include special tokens, which decoding then drops, as upstream.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real

import torch

from datamodules.checks import check_int
from datamodules.transforms import LONE_SURROGATE, DocumentTransform
from zoo.errors import ZooError
from zoo.resolve import load_pretrained, model_identity

#: Bump when the editing changes, so cached edited data is rebuilt (2: special-token look-alikes
#: and lone surrogates in a document are read as text).
TOEDIT_VERSION = 2
VARIANTS = ("replace", "replace_delete", "delete")
#: Default ``beta`` per variant (the spec: 1.5 for replacing only, 1 with deletion; unused by ``delete``).
DEFAULT_BETA = {"replace": 1.5, "replace_delete": 1.0, "delete": 1.0}
# Logits are normalised in float32 chunks of at most this many elements, so a bf16 batch of a
# 150k-token vocabulary never needs a full float32 copy next to it.
_CHUNK_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------------------------
# Settings and result
# ---------------------------------------------------------------------------------------------
def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class EditSettings:
    """How tokens are edited: the one declaration of the token-edit settings, taken whole by
    ``TokenEditor``, the ``TokenEditing`` transform, ``zoo.modules.TokenEditedLM``,
    ``zoo.modules.synthesis.TokenEditSynthesizer`` and ``zoo synth toedit`` (a nested ``editing:``
    mapping in recipes).

    Args:
        threshold: Tokens whose probability under the prior exceeds this are resampled, in (0, 1).
        top_k: Candidates a resampled token is drawn from (capped at the vocabulary size).
        beta: Temperature of the candidate distribution ``softmax(logprob / beta)``; ``None``
            takes the variant's default (1.5 for ``replace``, 1.0 for ``replace_delete``).
        variant: ``replace``, ``replace_delete`` (also delete unlikely tokens) or ``delete`` (only delete).
        delete_below: ``replace_delete`` / ``delete``: tokens with probability below this are deleted.
        seed: Seed mixed into every sampling key.
    """

    threshold: float = 0.99
    top_k: int = 8
    beta: float | None = None
    variant: str = "replace"
    delete_below: float = 0.001
    seed: int = 0

    def __post_init__(self):
        if not _is_number(self.threshold) or not 0 < self.threshold < 1:
            raise ZooError(f"threshold={self.threshold!r} must be a number in (0, 1): tokens with a prior "
                           "probability above it are resampled (the paper uses 0.99)")
        if not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 1:
            raise ZooError(f"top_k={self.top_k!r} must be an integer >= 1: the candidates a token is resampled "
                           "from (default 8)")
        if self.beta is not None and (not _is_number(self.beta) or not 0 < self.beta < math.inf):
            raise ZooError(f"beta={self.beta!r} must be a positive number (the sampling temperature), "
                           "or None for the variant's default (1.5 replace, 1.0 replace_delete)")
        if self.variant not in VARIANTS:
            raise ZooError(f"variant={self.variant!r} is unknown; choose one of {', '.join(VARIANTS)}")
        if not _is_number(self.delete_below) or not 0 <= self.delete_below < 1:
            raise ZooError(f"delete_below={self.delete_below!r} must be a number in [0, 1): tokens with a prior "
                           "probability below it are deleted (the paper uses 0.001)")
        if self.variant == "replace_delete" and self.delete_below > self.threshold:
            raise ZooError(f"delete_below={self.delete_below!r} is above threshold={self.threshold!r}: a token "
                           "cannot be both deleted and resampled; lower delete_below or raise threshold")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ZooError(f"seed={self.seed!r} must be an integer")

    @property
    def resolved_beta(self) -> float:
        """``beta``, or the variant's default when it is None."""
        return float(self.beta) if self.beta is not None else DEFAULT_BETA[self.variant]

    @property
    def replaces(self) -> bool:
        """Whether the variant resamples likely tokens."""
        return self.variant in ("replace", "replace_delete")

    @property
    def deletes(self) -> bool:
        """Whether the variant deletes unlikely tokens."""
        return self.variant in ("replace_delete", "delete")


@dataclass
class EditResult:
    """Edited token rows and what happened to each original token.

    Attributes:
        input_ids: ``(B, T)`` edited ids; each row holds its kept tokens from the left, then ``pad_id``.
        attention_mask: ``(B, T)`` 1 on kept tokens.
        replaced: ``(B, T)`` bool, original positions that were resampled.
        changed: ``(B, T)`` bool, resampled to a token other than the original.
        deleted: ``(B, T)`` bool, original positions that were deleted.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    replaced: torch.Tensor
    changed: torch.Tensor
    deleted: torch.Tensor

    def edit_rate(self) -> torch.Tensor:
        """``(B,)`` share of each row's original tokens (position 0 included) that changed or were deleted."""
        edited = (self.changed | self.deleted).sum(1).double()
        # Every original token was either kept or deleted.
        original = self.attention_mask.sum(1) + self.deleted.sum(1)
        return edited / original.clamp(min=1).double()


# ---------------------------------------------------------------------------------------------
# Keyed randomness: splitmix64 on int64 tensors
# ---------------------------------------------------------------------------------------------
def _signed(value: int) -> int:
    """A 64-bit pattern as the int64 holding the same bits."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shr(x: torch.Tensor, bits: int) -> torch.Tensor:
    # torch's >> on int64 is arithmetic; masking off the copied sign bits makes it logical.
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser, a bijection on 64-bit patterns (int64 products wrap mod 2**64)."""
    x = (x ^ _shr(x, 30)) * _MIX1
    x = (x ^ _shr(x, 27)) * _MIX2
    return x ^ _shr(x, 31)


def row_keys(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """A content hash of each row's valid tokens.

    Each valid token contributes ``mix64(id + (position + 1) * golden)``; the contributions are
    summed (mod 2**64, so in any order) and mixed with the row length. Padded positions add
    nothing, so a row has the same key in any batch and with any amount of padding.

    Args:
        input_ids: ``(B, T)`` token ids.
        attention_mask: ``(B, T)`` 1 on valid tokens.

    Returns:
        ``(B,)`` int64 keys.
    """
    valid = attention_mask.bool()
    positions = torch.arange(1, input_ids.shape[1] + 1, device=input_ids.device)
    per_token = _mix64(input_ids.long() + positions * _GOLDEN)
    content = torch.where(valid, per_token, 0).sum(1)
    return _mix64(content ^ _mix64(valid.sum(1) * _GOLDEN))


def keyed_uniform(keys: torch.Tensor, n_positions: int, seed: int) -> torch.Tensor:
    """Uniforms in [0, 1) from a counter-based hash of ``(seed, key, position)``.

    Row ``b`` reads the splitmix64 stream seeded by ``mix64(key_b ^ mix64(seed))`` at positions
    ``0 .. n_positions - 1``; the top 53 bits of each output become a float64. A value depends on
    its own key, seed and position only: never on the other rows, the batch size or the device.

    Args:
        keys: ``(B,)`` int64 keys, e.g. :func:`row_keys`.
        n_positions: Positions per row.
        seed: Any integer (taken mod 2**64).

    Returns:
        ``(B, n_positions)`` float64.
    """
    seed_state = _mix64(torch.tensor(_signed(seed), dtype=torch.int64, device=keys.device) + _GOLDEN)
    state = _mix64(keys.long() ^ seed_state)
    positions = torch.arange(1, n_positions + 1, device=keys.device)
    bits = _mix64(state[:, None] + positions[None, :] * _GOLDEN)
    return _shr(bits, 11).double() * 2.0**-53


# ---------------------------------------------------------------------------------------------
# Editing
# ---------------------------------------------------------------------------------------------
def _log_normaliser(logits: torch.Tensor) -> torch.Tensor:
    """``logsumexp`` over the last dimension in float32, a bounded chunk of rows at a time."""
    flat = logits.reshape(-1, logits.shape[-1])
    rows = max(1, _CHUNK_ELEMENTS // max(1, flat.shape[1]))
    parts = [torch.logsumexp(chunk.float(), dim=-1) for chunk in flat.split(rows)]
    return (torch.cat(parts) if parts else flat.new_zeros(0, dtype=torch.float32)).reshape(logits.shape[:-1])


def edit_tokens(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                settings: EditSettings, pad_id: int) -> EditResult:
    """Edit right-padded token rows given the prior's logits over them.

    Args:
        logits: ``(B, T, V)`` prior logits; position ``i - 1`` predicts token ``i``. Any float
            dtype: probabilities are computed in float32.
        input_ids: ``(B, T)`` token ids.
        attention_mask: ``(B, T)`` 1 on valid tokens (right padding).
        settings: What to edit and how.
        pad_id: Fills the rows' tails after deletions.

    Returns:
        The edited rows and per-position masks; see :class:`EditResult`.
    """
    batch, length, vocab = logits.shape
    if input_ids.shape != (batch, length) or attention_mask.shape != (batch, length):
        raise ValueError(f"logits {tuple(logits.shape)} do not match input_ids {tuple(input_ids.shape)} / "
                         f"attention_mask {tuple(attention_mask.shape)}")
    valid = attention_mask.bool()
    ids = input_ids.long()
    # A token is editable when it and its predecessor are real: position 0 never is.
    editable = torch.zeros_like(valid)
    editable[:, 1:] = valid[:, 1:] & valid[:, :-1]
    # targets[:, i] = the token that logits[:, i] predicts; the last column predicts nothing, and
    # padding (which may hold any id) is read as id 0.
    targets = torch.zeros_like(ids)
    targets[:, :-1] = torch.where(editable[:, 1:], ids[:, 1:], 0)
    # The whole (B, T, V) tensor is used, not a [:, :-1] slice: reshaping a slice would copy it.
    actual = logits.gather(-1, targets[..., None]).squeeze(-1).float()
    prob = torch.zeros(batch, length, device=logits.device)
    prob[:, 1:] = (actual - _log_normaliser(logits))[:, :-1].exp()

    replaced = editable & (prob > settings.threshold) if settings.replaces else torch.zeros_like(valid)
    deleted = editable & (prob < settings.delete_below) if settings.deletes else torch.zeros_like(valid)
    edited = ids
    if replaced.any():
        # Top-k only where a token is resampled: over the whole (B, T, V) tensor it cost more than half of
        # the rule (benchmarks/perf/edit_throughput.py). Position i is predicted by logits at i - 1.
        rows, positions = replaced.nonzero(as_tuple=True)
        top_logits, top_ids = logits[rows, positions - 1].topk(min(settings.top_k, vocab), dim=-1)
        # softmax(topk logprob / beta): the log-normaliser cancels, so raw logits do.
        cdf = torch.softmax(top_logits.float() / settings.resolved_beta, dim=-1).double().cumsum(-1)
        uniform = keyed_uniform(row_keys(ids, valid), length, settings.seed)[rows, positions]
        # Inverse CDF; the clamp guards a rounded-down last cdf entry.
        pick = torch.searchsorted(cdf, uniform[:, None].contiguous(), right=True)
        sampled = top_ids.gather(-1, pick.clamp(max=top_ids.shape[-1] - 1)).squeeze(-1)
        edited = ids.clone()
        edited[rows, positions] = sampled
    changed = replaced & (edited != ids)

    keep = valid & ~deleted
    # Left-compact the kept tokens: token j goes to (kept tokens before it); dropped ones to a spare column.
    target = torch.where(keep, keep.long().cumsum(1) - 1, length)
    compact = torch.full((batch, length + 1), pad_id, dtype=input_ids.dtype, device=input_ids.device)
    compact.scatter_(1, target, edited.to(input_ids.dtype))
    kept = keep.sum(1, keepdim=True)
    mask = (torch.arange(length, device=input_ids.device)[None, :] < kept).to(attention_mask.dtype)
    return EditResult(input_ids=compact[:, :length], attention_mask=mask, replaced=replaced, changed=changed,
                      deleted=deleted)


class TokenEditor:
    """A frozen prior LM that edits texts (see the module docstring).

    Args:
        prior: A zoo name, ``local-dir:PATH`` or ``hf-hub:org/name`` (read with
            :func:`zoo.resolve.load_pretrained`, moved to the GPU when there is one), or an
            already-loaded ``(net, tokenizer)`` pair (used on the net's device).
        settings: What to edit and how.
        max_length: Tokens kept of each text (its special tokens included), capped at the
            prior's ``max_position_embeddings``.
        batch_size: Texts per forward pass; the edits do not depend on it.
    """

    def __init__(self, prior: str | tuple, settings: EditSettings = EditSettings(), max_length: int = 2048,
                 batch_size: int = 16):
        check_int("max_length", max_length, 1, "tokens kept of each text")
        check_int("batch_size", batch_size, 1, "texts per forward pass of the prior")
        if isinstance(prior, str):
            net, tokenizer = load_pretrained(prior)
            if torch.cuda.is_available():
                net = net.cuda()
        else:
            net, tokenizer = prior
        self.net, self.tokenizer, self.settings, self.batch_size = net.eval(), tokenizer, settings, batch_size
        self.net.requires_grad_(False)
        window = getattr(net.config, "max_position_embeddings", None)
        self.max_length = min(max_length, window) if window else max_length
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = pad if pad is not None else 0

    @property
    def device(self) -> torch.device:
        """Where the prior runs."""
        return next(self.net.parameters()).device

    def edit_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EditResult:
        """Edit right-padded rows: one forward of the prior, then :func:`edit_tokens`.

        Args:
            input_ids: ``(B, T)`` token ids of the prior's tokenizer.
            attention_mask: ``(B, T)`` 1 on valid tokens.
        """
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        with torch.no_grad():
            logits = self.net(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return edit_tokens(logits, input_ids, attention_mask, self.settings, self.pad_id)

    def edit_texts(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """Edit texts: tokenize (the tokenizer adds its bos, if any), edit, decode without special tokens.

        A text is read as text only: special-token look-alikes in it (``<|eos|>``) are tokenized as
        characters, so they neither end the document for the prior nor vanish in decoding, and a
        lone surrogate reads as U+FFFD. Texts are batched by length (similar lengths pad less) and
        returned in input order.

        Args:
            texts: The documents.

        Returns:
            The edited texts and each text's edit rate (share of its tokens changed or deleted).
        """
        if not texts:
            return [], []
        readable = [LONE_SURROGATE.sub("\ufffd", text) for text in texts]
        encoded = self.tokenizer(readable, truncation=True, max_length=self.max_length,
                                 split_special_tokens=True)["input_ids"]
        edited, rates = [""] * len(encoded), [0.0] * len(encoded)
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = [i for i in order[start : start + self.batch_size] if encoded[i]]
            if not chunk:
                continue  # texts that tokenize to nothing stay empty
            length = len(encoded[chunk[0]])
            ids = torch.full((len(chunk), length), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), length), dtype=torch.long)
            for row, i in enumerate(chunk):
                ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            result = self.edit_ids(ids, mask)
            kept_ids, kept = result.input_ids.cpu(), result.attention_mask.sum(1).tolist()
            decoded = self.tokenizer.batch_decode([kept_ids[row, :n].tolist() for row, n in enumerate(kept)],
                                                  skip_special_tokens=True, clean_up_tokenization_spaces=False)
            for i, text, rate in zip(chunk, decoded, result.edit_rate().tolist()):
                edited[i], rates[i] = text, rate
        return edited, rates


class TokenEditing(DocumentTransform):
    """ToEdit as a document transform: each training document is replaced by its token-edited text.

    The prior is read on first use (on the GPU when there is one). Documents are truncated to
    ``max_length`` tokens of the prior (its window at most). The ``edit_rate`` column holds each
    document's share of edited tokens; :meth:`report` averages it. Run it with ``num_proc=1``:
    each process would load its own prior.

    Args:
        prior: The frozen prior LM: a zoo name, ``local-dir:PATH`` or ``hf-hub:org/name``.
        editing: What to edit and how (the paper's settings by default; upstream's example uses
            ``top_k`` 64).
        max_length: Tokens kept of each document, capped at the prior's window (upstream 2048).
        batch_size: Documents per forward pass of the prior (does not change the edits).
    """

    def __init__(self, prior: str = "base-lm-tiny", editing: EditSettings = EditSettings(), max_length: int = 2048,
                 batch_size: int = 16):
        check_int("max_length", max_length, 1, "tokens kept of each document")
        check_int("batch_size", batch_size, 1, "documents per forward pass of the prior")
        self.prior, self.editing, self.max_length = prior, editing, max_length
        # Part of the fingerprint: a change of the editing rebuilds cached edited data.
        self.version = TOEDIT_VERSION
        # Private: the edits do not depend on the batch size, so it stays out of the fingerprint.
        self._batch_size = batch_size
        self._editor: TokenEditor | None = None
        self._prior_identity: str | None = None

    def editor(self) -> TokenEditor:
        """The editor, its prior loaded on first use."""
        if self._editor is None:
            self._editor = TokenEditor(self.prior, self.editing, self.max_length, self._batch_size)
        return self._editor

    def prior_identity(self) -> str:
        """What names the prior's outputs (``zoo.resolve.model_identity``), else the reference itself
        while it does not resolve yet (not cached: it changes once the prior exists)."""
        if self._prior_identity is None:
            identity = model_identity(self.prior)
            if identity is None:
                return self.prior
            self._prior_identity = identity
        return self._prior_identity

    @property
    def fingerprint(self) -> str:
        """Class, settings and the identity of the prior's files (a rebuilt prior edits differently)."""
        return f"{super().fingerprint}|prior:{self.prior_identity()}"

    def __getstate__(self) -> dict:
        # datasets pickles the transform to fingerprint a map and to ship it to workers: the loaded
        # prior would make that slow and the hash depend on whether it was used yet.
        return {**self.__dict__, "_editor": None, "_prior_identity": None}

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        texts, rates = self.editor().edit_texts(batch["text"])
        return {"id": list(batch["id"]), "title": list(batch["title"]), "text": texts, "edit_rate": rates}

    def report(self, transformed) -> dict | None:
        """Documents edited, their mean edit rate and the settings used."""
        rates = list(transformed["edit_rate"]) if "edit_rate" in transformed.column_names else []
        settings = {**asdict(self.editing), "beta": self.editing.resolved_beta, "prior": self.prior,
                    "max_length": self.max_length}
        return {"documents": len(rates), "mean_edit_rate": sum(rates) / len(rates) if rates else 0.0,
                "settings": settings}
