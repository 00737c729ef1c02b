"""``ZooLM``: lm-eval's three-method ``LM`` contract for zoo causal-LM modules.

Tokenization is lm-eval's own (``TemplateLM``: the context/continuation split, empty contexts,
rolling windows), so a task scores the same through this adapter and through ``HFLM`` on the
exported folder. What differs is the arithmetic path, which is where the speed comes from:

- requests that share a context (the options of a multiple-choice question) are packed into one
  row as a tree: the context once, each continuation as a branch with its own position ids and a
  mask that hides the other branches; a 13-way ChemProt question costs one context, not 13;
- other requests are sorted by length and right-padded without a mask (causal attention never
  looks right), so SDPA runs its causal kernel;
- the output layer and log-softmax run only on the scored positions, not on every position.

``python -m benchmarks.perf.eval_throughput`` measures it against ``HFLM`` in one process.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from lm_eval import utils
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import Collator
from tqdm import tqdm

from datamodules.option_scoring import Row, plain_row, score_rows, shared_row


class ZooLM(TemplateLM):
    """Score a zoo ``CausalLM`` (or any module with ``net`` and ``tokenizer``) with lm-eval.

    Args:
        module: A zoo LM module: ``module.net`` is a HF causal LM, ``module.tokenizer`` its tokenizer.
        batch_size: Requests per forward pass.
        max_gen_toks: Default cap of generated tokens for ``generate_until``.
    """

    def __init__(self, module, batch_size: int = 64, max_gen_toks: int = 32):
        super().__init__()
        self.module = module.eval()
        self.net, self.tokenizer = module.net, module.tokenizer
        self.batch_size = int(batch_size)
        self.max_gen_toks = max_gen_toks
        #: Encodings prepared by ``loglikelihood`` for the strings it is about to tokenize.
        self._encoded: dict[str, list[int]] = {}
        self.max_length = int(self.net.config.max_position_embeddings)
        # Decoder and output layer apart, so only scored positions are projected to the vocabulary
        # (valid for Llama-style nets, whose logits are exactly lm_head(hidden)).
        self.decoder, self.output_layer = self.net.get_decoder(), self.net.get_output_embeddings()
        self._device = next(self.net.parameters()).device

    # ------------------------------------------------------------------ tokenization (as HFLM)
    @property
    def eot_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        # HFLM conditions empty contexts on bos when the tokenizer has one.
        return self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.eot_token_id

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs) -> list[int]:
        if add_special_tokens is None:
            if string in self._encoded:
                return self._encoded[string]
            add_special_tokens = self._adds_bos(string)
        return self.tokenizer.encode(string, add_special_tokens=add_special_tokens)

    def _adds_bos(self, string: str) -> bool:
        # A string that already starts with bos must not get a second one (HFLM's rule).
        return not (self.tokenizer.bos_token and string.startswith(self.tokenizer.bos_token))

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """lm-eval's ``loglikelihood``, with its strings tokenized up front in batched calls.

        ``TemplateLM`` encodes each context and each context+continuation one call at a time; the
        13 options of a ChemProt question encode the same context 13 times. One batched call of the
        fast tokenizer over the unique strings gives the same ids several times faster.
        """
        strings = set()
        for context, continuation in (request.args for request in requests):
            if context:
                # TemplateLM moves trailing whitespace from the context to the continuation.
                strings.update((context.rstrip(), context + continuation))
        for adds_bos in (True, False):
            batch = sorted(s for s in strings if self._adds_bos(s) == adds_bos)
            if batch:
                self._encoded.update(zip(batch, self.tokenizer(batch, add_special_tokens=adds_bos)["input_ids"]))
        try:
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)
        finally:
            self._encoded.clear()

    def tok_decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs) -> list[tuple[float, bool]]:
        by_context: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, (_, context, _) in enumerate(requests):
            by_context[tuple(context)].append(index)
        plain, shared = [], []
        for context, members in by_context.items():
            continuations = [requests[i][2] for i in members]
            if len(members) > 1 and len(context) + sum(len(c) - 1 for c in continuations) <= self.max_length:
                shared.append(shared_row(list(context), members, continuations))
            else:
                plain += [plain_row(i, requests[i][1], requests[i][2], self.max_length) for i in members]
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        progress = tqdm(total=len(requests), disable=disable_tqdm, desc="zoo loglikelihood")
        for rows, masked in ((plain, False), (shared, True)):
            rows.sort(key=lambda row: -len(row.tokens))
            for start in range(0, len(rows), self.batch_size):
                for index, score in self._score(rows[start: start + self.batch_size], masked):
                    results[index] = score
                    if requests[index][0] is not None:
                        self.cache_hook.add_partial("loglikelihood", requests[index][0], score)
                    progress.update(1)
        progress.close()
        return results

    def _score(self, rows: list[Row], masked: bool) -> list[tuple[int, tuple[float, bool]]]:
        """Log-probability sums and greedy flags of the requests packed in ``rows`` (one forward)."""
        return score_rows(self.decoder, self.output_layer, rows, masked, self._device)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        windows, owners = [], []
        for index, (string,) in enumerate(tqdm([r.args for r in requests], disable=disable_tqdm, desc="zoo rolling")):
            for window in map(utils.make_disjoint_window, utils.get_rolling_token_windows(
                    token_list=self.tok_encode(string), prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length, context_len=1)):
                windows.append((None, *window))
                owners.append(index)
        totals = [0.0] * len(requests)
        for owner, (score, _) in zip(owners, self._loglikelihood_tokens(windows, disable_tqdm=True)):
            totals[owner] += score
        for request, total in zip(requests, totals):
            self.cache_hook.add_partial("loglikelihood_rolling", (request.args[0],), total)
        return totals

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy, KV-cached, batched generation, cut at the first stop string (as HFLM)."""
        order = Collator([r.args for r in requests], sort_fn=lambda a: (-len(self.tok_encode(a[0])), a[0]),
                         group_by="gen_kwargs", group_fn=lambda a: a[1])
        results: list[str] = []
        progress = tqdm(total=len(requests), disable=disable_tqdm, desc="zoo generate")
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eot_token_id
        for chunk in order.get_batched(n=self.batch_size):
            contexts, all_kwargs = zip(*chunk)
            kwargs = dict(all_kwargs[0])
            until = kwargs.pop("until", None) or []
            until = [until] if isinstance(until, str) else list(until)
            eos = self.tok_decode([self.eot_token_id])
            until = until + ([eos] if eos and eos not in until else [])
            max_new = int(kwargs.pop("max_gen_toks", self.max_gen_toks))
            encoded = [self.tok_encode(c)[-(self.max_length - max_new):] for c in contexts]
            width = max(len(e) for e in encoded)
            input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
            attention_mask = torch.zeros_like(input_ids)
            for row, ids in enumerate(encoded):
                input_ids[row, width - len(ids):] = torch.tensor(ids)
                attention_mask[row, width - len(ids):] = 1
            output = self.net.generate(input_ids=input_ids.to(self._device), attention_mask=attention_mask.to(self._device),
                                       max_new_tokens=max_new, do_sample=False, pad_token_id=pad,
                                       eos_token_id=self.eot_token_id)
            for context, tokens in zip(contexts, output[:, width:].tolist()):
                text = self.tok_decode(tokens)
                for stop in until:
                    if stop:
                        text = text.split(stop)[0]
                results.append(text)
                self.cache_hook.add_partial("generate_until", (context, all_kwargs[0]), text)
                progress.update(1)
        progress.close()
        return order.get_original(results)
