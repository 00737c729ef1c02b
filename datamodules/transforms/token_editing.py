"""ToEdit token editing: resample the tokens a frozen prior LM finds too easy, drop the ones it finds absurd.

Zhu et al., "How to Synthesize Text Data without Model Collapse?" (ICML 2025); see
``shared/specs/toedit.md`` and upstream's ``toedit_resampling.py``. Each document is edited on its own
(tokenized with the prior's tokenizer; never packed with other documents):

1. The prior reads the document in windows of at most ``max_length`` tokens (:func:`document_windows`).
   A document that fits is one window: one forward, as upstream reads a document (upstream truncates
   at 2048 tokens; here a longer document goes on in further windows, so it is edited whole). Each
   further window starts with the document's own earlier tokens (at least half a window of them) as
   context and edits only the tokens after them, so every token is judged given at least
   ``max_length // 2`` tokens of its document before it, and never given another document's.
2. At every position ``i >= 1`` the logits at ``i - 1`` give the probability ``p_i`` of the actual
   token and the top-K candidates. The prior always reads the original tokens (upstream: one forward
   over the unedited document).
3. ``replace``: a token with ``p_i > threshold`` is replaced by a sample from the top-K
   candidates with probabilities ``softmax(topk_logprobs / beta)`` (the original token is one of
   them, so a "replaced" token may come back unchanged). ``replace_delete`` also deletes tokens
   with ``p_i < delete_below``; ``delete`` only deletes. Position 0 is always kept.
4. The kept tokens are decoded with special tokens skipped. Each document's counts (tokens,
   resampled, changed, deleted) are kept, so the edit rate is reported exactly (:class:`DocumentEdit`,
   :meth:`TokenEditing.report`).

Everything after the forward is a handful of batched tensor operations (no per-token loop), so
the cost is that of the prior's forward. Sampling is keyed: the uniform behind position ``t`` of
a document is a hash of ``(seed, document content, t)`` (:func:`keyed_uniform`), so given the same
logits a document gets the same edits whatever batch its windows land in, however much padding they
get, and in any process. (The prior's logits themselves may differ in the last bits with the padding;
that moves an edit only when a probability sits on the threshold or a uniform on a CDF step.)

Deviations from upstream, on purpose: sampling uses a content-keyed counter-based hash instead
of numpy's global generator (upstream's edits depend on batch order); a document longer than the
window is edited in further windows instead of being cut; decoding keeps the tokenizer's spacing
(upstream's ``clean_up_tokenization_spaces=True`` also rewrites unedited text, e.g. ``" ."`` to
``"."``); the top-K candidates may include special tokens, which decoding then drops, as upstream.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Real

import numpy as np
import torch

from datamodules.checks import check_int
from datamodules.text import document_text
from datamodules.transforms import LONE_SURROGATE, DocumentTransform
from zoo.errors import ZooError
from zoo.resolve import load_pretrained, model_identity

#: Bump when the editing changes, so cached edited data is rebuilt (2: special-token look-alikes
#: and lone surrogates in a document are read as text; 3: whole documents, title line included, in
#: windows instead of truncated).
TOEDIT_VERSION = 3
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


@dataclass(frozen=True)
class DocumentEdit:
    """One document's edit and its counts (over all its tokens, the special tokens the tokenizer adds included).

    Attributes:
        text: The edited document: its kept tokens decoded, special tokens skipped.
        tokens: Tokens of the original document under the prior's tokenizer.
        replaced: Tokens the prior found too likely (``p > threshold``), resampled.
        changed: Resampled tokens that came back as another token.
        deleted: Tokens deleted (``p < delete_below``).
        windows: Forward windows the prior read the document in (1 when it fits the window).
    """

    text: str
    tokens: int
    replaced: int
    changed: int
    deleted: int
    windows: int

    @property
    def edit_rate(self) -> float:
        """Share of the document's tokens that changed or were deleted."""
        return (self.changed + self.deleted) / self.tokens if self.tokens else 0.0


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


def keyed_uniform(keys: torch.Tensor, n_positions: int, seed: int, offsets: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """Uniforms in [0, 1) from a counter-based hash of ``(seed, key, position)``.

    Row ``b`` reads the splitmix64 stream seeded by ``mix64(key_b ^ mix64(seed))`` at positions
    ``offsets_b .. offsets_b + n_positions - 1``; the top 53 bits of each output become a float64. A
    value depends on its own key, seed and position only: never on the other rows, the batch size or
    the device.

    Args:
        keys: ``(B,)`` int64 keys, e.g. :func:`row_keys`.
        n_positions: Positions per row.
        seed: Any integer (taken mod 2**64).
        offsets: ``(B,)`` first position of each row in its stream (default 0): a window that starts at
            token ``t`` of its document reads the document's uniforms from ``t`` on.

    Returns:
        ``(B, n_positions)`` float64.
    """
    seed_state = _mix64(torch.tensor(_signed(seed), dtype=torch.int64, device=keys.device) + _GOLDEN)
    state = _mix64(keys.long() ^ seed_state)
    positions = torch.arange(1, n_positions + 1, device=keys.device)[None, :]
    if offsets is not None:
        positions = positions + offsets.to(keys.device).long()[:, None]
    bits = _mix64(state[:, None] + positions * _GOLDEN)
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
                settings: EditSettings, pad_id: int, *, keys: torch.Tensor | None = None,
                offsets: torch.Tensor | None = None, first_edited: torch.Tensor | None = None) -> EditResult:
    """Edit right-padded token rows given the prior's logits over them.

    A row is a document or a window of a document (:func:`document_windows`): ``keys``, ``offsets`` and
    ``first_edited`` say which document, where in it the row starts, and which leading tokens are
    context only, so a document cut into windows gets the draws it gets whole.

    Args:
        logits: ``(B, T, V)`` prior logits; position ``i - 1`` predicts token ``i``. Any float
            dtype: probabilities are computed in float32.
        input_ids: ``(B, T)`` token ids.
        attention_mask: ``(B, T)`` 1 on valid tokens (right padding).
        settings: What to edit and how.
        pad_id: Fills the rows' tails after deletions.
        keys: ``(B,)`` sampling key of each row's document (default: :func:`row_keys` of the row itself).
        offsets: ``(B,)`` position of each row's first token in its document (default 0).
        first_edited: ``(B,)`` first position of each row that may be edited (default 1, the first one
            with a prediction); the tokens before it only condition the prior.

    Returns:
        The edited rows and per-position masks; see :class:`EditResult`.
    """
    batch, length, vocab = logits.shape
    if input_ids.shape != (batch, length) or attention_mask.shape != (batch, length):
        raise ValueError(f"logits {tuple(logits.shape)} do not match input_ids {tuple(input_ids.shape)} / "
                         f"attention_mask {tuple(attention_mask.shape)}")
    valid = attention_mask.bool()
    ids = input_ids.long()
    # A token is editable when it and its predecessor are real and it is not context: position 0 never is.
    editable = torch.zeros_like(valid)
    editable[:, 1:] = valid[:, 1:] & valid[:, :-1]
    if first_edited is not None:
        editable &= torch.arange(length, device=valid.device)[None, :] >= first_edited.to(valid.device)[:, None]
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
        keys = row_keys(ids, valid) if keys is None else keys.to(ids.device)
        uniform = keyed_uniform(keys, length, settings.seed, offsets)[rows, positions]
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


def document_windows(length: int, window: int) -> list[tuple[int, int, int]]:
    """The windows the prior reads a document of ``length`` tokens in, as ``(start, end, first_edited)``
    document positions: the window holds tokens ``start .. end - 1`` and edits ``first_edited .. end - 1``.

    A document that fits is one window, ``(0, length, 1)``. Otherwise the windows are ``window``
    tokens long; each next one edits the tokens after the last one's end and starts at least
    ``window // 2`` tokens before that, further back when the document's end allows (the last
    window ends at the document's end). So each token is edited once, with at least ``window // 2``
    of its document's earlier tokens before it in its window (all of them in the first window).

    Args:
        length: Tokens of the document.
        window: Tokens the prior reads at a time (at least 2).
    """
    if length == 0:
        return []
    if length <= window:
        return [(0, length, 1)]
    context = window // 2
    spans = [(0, window, 1)]
    while (end := spans[-1][1]) < length:
        start = min(end - context, length - window)
        spans.append((start, start + window, end))
    return spans


class TokenEditor:
    """A frozen prior LM that edits documents (see the module docstring).

    Args:
        prior: A zoo name, ``local-dir:PATH`` or ``hf-hub:org/name`` (read with
            :func:`zoo.resolve.load_pretrained`, moved to the GPU when there is one), or an
            already-loaded ``(net, tokenizer)`` pair (used on the net's device).
        settings: What to edit and how.
        max_length: Tokens the prior reads at a time (its window; its special tokens included), capped
            at the prior's ``max_position_embeddings``; a longer document is read in several windows.
            Keep it within the length the prior was trained on.
        batch_size: Windows per forward pass; the edits do not depend on it.
    """

    def __init__(self, prior: str | tuple, settings: EditSettings = EditSettings(), max_length: int = 2048,
                 batch_size: int = 16):
        # Two tokens at least: a window predicts its tokens from the ones before them.
        check_int("max_length", max_length, 2, "tokens the prior reads at a time")
        check_int("batch_size", batch_size, 1, "windows per forward pass of the prior")
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

    def edit_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **rows) -> EditResult:
        """Edit right-padded rows: one forward of the prior, then :func:`edit_tokens`.

        Args:
            input_ids: ``(B, T)`` token ids of the prior's tokenizer.
            attention_mask: ``(B, T)`` 1 on valid tokens.
            **rows: ``keys``, ``offsets``, ``first_edited`` of :func:`edit_tokens`, for rows that are windows.
        """
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        with torch.no_grad():
            logits = self.net(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return edit_tokens(logits, input_ids, attention_mask, self.settings, self.pad_id, **rows)

    def edit_documents(self, texts: list[str]) -> list[DocumentEdit]:
        """Edit documents, each on its own: tokenize (the tokenizer adds its bos, if any), read in windows
        of the document only (:func:`document_windows`), edit, decode without special tokens.

        A text is read as text only: special-token look-alikes in it (``<|eos|>``) are tokenized as
        characters, so they neither end the document for the prior nor vanish in decoding, and a
        lone surrogate reads as U+FFFD. Windows are batched by length (similar lengths pad less).

        Args:
            texts: The documents.

        Returns:
            Each document's edit, in input order.
        """
        readable = [LONE_SURROGATE.sub("\ufffd", text) for text in texts]
        encoded = self.tokenizer(readable, split_special_tokens=True, verbose=False)["input_ids"] if texts else []
        # A document's draws are keyed by all of its tokens, whichever window a token is edited in.
        keys = [int(row_keys(torch.tensor([ids]), torch.ones(1, len(ids)))[0]) if ids else 0 for ids in encoded]
        spans = [(doc, *span) for doc, ids in enumerate(encoded) for span in document_windows(len(ids), self.max_length)]
        spans.sort(key=lambda span: span[1] - span[2])  # longest first: start - end
        # Per document: (start, kept token ids, replaced, changed, deleted) of each window.
        pieces: list[list[tuple]] = [[] for _ in encoded]
        for first in range(0, len(spans), self.batch_size):
            batch = spans[first : first + self.batch_size]
            length = batch[0][2] - batch[0][1]
            ids = torch.full((len(batch), length), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), length), dtype=torch.long)
            for row, (doc, start, end, _) in enumerate(batch):
                ids[row, : end - start] = torch.tensor(encoded[doc][start:end])
                mask[row, : end - start] = 1
            result = self.edit_ids(ids, mask, keys=torch.tensor([keys[doc] for doc, *_ in batch]),
                                   offsets=torch.tensor([start for _, start, _, _ in batch]),
                                   first_edited=torch.tensor([edited - start for _, start, _, edited in batch]))
            edited_ids, kept = result.input_ids.cpu(), result.attention_mask.sum(1).tolist()
            replaced, changed, deleted = (flags.cpu() for flags in (result.replaced, result.changed, result.deleted))
            for row, (doc, start, _, edited) in enumerate(batch):
                # The window owns its tokens from first_edited on (the first window also owns position 0);
                # in the compacted row they start after the context tokens, which are never deleted.
                own = 0 if start == 0 else edited - start
                pieces[doc].append((start, edited_ids[row, own : kept[row]].tolist(), int(replaced[row].sum()),
                                    int(changed[row].sum()), int(deleted[row].sum())))
        kept_ids = [[token for piece in sorted(doc_pieces) for token in piece[1]] for doc_pieces in pieces]
        decoded = self.tokenizer.batch_decode(kept_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return [DocumentEdit(text=text, tokens=len(ids), replaced=sum(p[2] for p in doc_pieces),
                             changed=sum(p[3] for p in doc_pieces), deleted=sum(p[4] for p in doc_pieces),
                             windows=len(doc_pieces))
                for text, ids, doc_pieces in zip(decoded, encoded, pieces)]

    def edit_texts(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """The edited texts and each text's edit rate (share of its tokens changed or deleted); see
        :meth:`edit_documents`.

        Args:
            texts: The documents.
        """
        edits = self.edit_documents(texts)
        return [edit.text for edit in edits], [edit.edit_rate for edit in edits]


#: The per-document counts ``TokenEditing`` adds as columns, summed by its report.
COUNTS = ("tokens", "replaced", "changed", "deleted", "windows")
#: Percentiles of the per-document edit rate in the report.
PERCENTILES = (10, 50, 90)


class TokenEditing(DocumentTransform):
    """ToEdit as a document transform: each training document is replaced by its token-edited text.

    The prior reads each document as the LM will (title line, blank line, body: ``document_text``)
    and on its own, in windows of at most ``max_length`` tokens of that document; the edited text
    holds the title line. The prior is read on first use (on the GPU when there is one). The counts of
    :class:`DocumentEdit` go with each document as columns; :meth:`report` sums them. Run it with
    ``num_proc=1``: each process would load its own prior.

    Args:
        prior: The frozen prior LM: a zoo name, ``local-dir:PATH`` or ``hf-hub:org/name``. It should
            not have been trained on the documents it edits (``toedit-prior-tiny``: another world).
        editing: What to edit and how (the paper's settings by default; upstream's example uses
            ``top_k`` 64).
        max_length: Tokens the prior reads at a time, capped at its window (upstream 2048); keep it
            within the length the prior was trained on.
        batch_size: Windows per forward pass of the prior (does not change the edits).
    """

    #: The title line is edited with the body (and so is inside the output text).
    keeps_title = False

    def __init__(self, prior: str = "toedit-prior-tiny", editing: EditSettings = EditSettings(),
                 max_length: int = 2048, batch_size: int = 16):
        check_int("max_length", max_length, 2, "tokens the prior reads at a time")
        check_int("batch_size", batch_size, 1, "windows per forward pass of the prior")
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
        edits = self.editor().edit_documents([document_text(title, text)
                                              for title, text in zip(batch["title"], batch["text"])])
        return {"id": list(batch["id"]), "title": list(batch["title"]), "text": [edit.text for edit in edits],
                **{count: [getattr(edit, count) for edit in edits] for count in COUNTS}}

    def report(self, transformed) -> dict:
        """What the editing did to the training documents, for the model card.

        Args:
            transformed: The edited training documents with their count columns.

        Returns:
            The documents and the summed counts; ``edit_rate`` (changed or deleted tokens over all
            tokens) and the shares resampled, changed and deleted; ``per_document``: the mean, min,
            10th/50th/90th percentiles and max of the documents' edit rates; ``windowed``: the
            documents read in more than one window; and the settings, the prior's identity included.
        """
        # An empty dataset may lack the columns.
        columns = {count: list(transformed[count]) if len(transformed) else [] for count in COUNTS}
        totals = {count: int(sum(values)) for count, values in columns.items()}
        tokens = totals["tokens"]
        shares = {f"{count}_share": totals[count] / tokens if tokens else 0.0 for count in ("replaced", "changed", "deleted")}
        rates = [(c + d) / t if t else 0.0 for t, c, d in zip(columns["tokens"], columns["changed"], columns["deleted"])]
        per_document = {"mean": float(np.mean(rates)), "min": min(rates),
                        **{f"p{q}": float(np.percentile(rates, q)) for q in PERCENTILES}, "max": max(rates)} if rates else {}
        settings = {**asdict(self.editing), "beta": self.editing.resolved_beta, "prior": self.prior,
                    "prior_identity": self.prior_identity(), "max_length": self.max_length,
                    "window": self.editor().max_length}
        return {"documents": len(transformed), **totals,
                "edit_rate": (totals["changed"] + totals["deleted"]) / tokens if tokens else 0.0, **shares,
                "per_document": per_document, "windowed": sum(windows > 1 for windows in columns["windows"]),
                "settings": settings}
