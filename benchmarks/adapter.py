"""``ZooLM``: lm-eval's three-method ``LM`` contract for zoo causal-LM modules.

Tokenization is lm-eval's own (``TemplateLM``: the context/continuation split, empty contexts,
rolling windows), so a task scores the same through this adapter and through ``HFLM`` on the
exported folder. What differs is the arithmetic path, which is where the speed comes from:

- requests are sorted by length and batched, right-padded without an attention mask (causal
  attention never looks right), so SDPA runs its causal kernel;
- log-softmax runs only on the continuation positions, not on every position of the batch;
- a forward pass is shared by requests whose context is the same and whose one-token
  continuations differ (lm-eval's ``Collator`` "contexts" grouping).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lm_eval import utils
from lm_eval.api.model import TemplateLM
from lm_eval.models.utils import Collator
from tqdm import tqdm


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
            # A string that already starts with bos must not get a second one (HFLM's rule).
            add_special_tokens = not (self.tokenizer.bos_token and string.startswith(self.tokenizer.bos_token))
        return self.tokenizer.encode(string, add_special_tokens=add_special_tokens)

    def tok_decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, **kwargs) -> list[tuple[float, bool]]:
        def by_length(request):
            tokens = request[1] + request[2]
            return -len(tokens), tuple(tokens)

        order = Collator(requests, sort_fn=by_length, group_by="contexts", group_fn=lambda r: r[-2] + r[-1][:-1])
        results: list[tuple[float, bool]] = []
        progress = tqdm(total=len(requests), disable=disable_tqdm, desc="zoo loglikelihood")
        for chunk in order.get_batched(n=self.batch_size):
            inputs = [(ctx + cont)[-(self.max_length + 1):][:-1] for _, ctx, cont in chunk]
            width = max(len(i) for i in inputs)
            batch = torch.zeros((len(inputs), width), dtype=torch.long)
            for row, ids in enumerate(inputs):
                batch[row, : len(ids)] = torch.tensor(ids)
            hidden = self.decoder(input_ids=batch.to(self._device), use_cache=False).last_hidden_state
            # Project and normalise only the continuation positions, all rows in one call: the output
            # layer is a fifth of a tiny model's FLOPs, and small calls cost more in dispatch than in math.
            spans = [(row * width + len(ids) - len(cont), len(cont)) for row, (ids, (_, _, cont)) in enumerate(zip(inputs, chunk))]
            index = torch.tensor([start + k for start, length in spans for k in range(length)], device=self._device)
            selected = hidden.reshape(-1, hidden.size(-1)).index_select(0, index)
            logprobs = F.log_softmax(self.output_layer(selected).float(), dim=-1)
            for (request_str, ctx_tokens, cont_tokens), row_logprobs in zip(chunk, logprobs.split([n for _, n in spans])):
                row_logprobs = row_logprobs.unsqueeze(0)
                greedy = row_logprobs.argmax(-1)
                for request_str, cont, cont_logprobs in order.get_cache(
                        req_str=request_str, cxt_toks=ctx_tokens, cont_toks=cont_tokens, logits=row_logprobs):
                    cont = torch.tensor(cont, device=self._device).unsqueeze(0)
                    is_greedy = bool((greedy[:, -cont.shape[1]:] == cont).all())
                    score = float(torch.gather(cont_logprobs, 2, cont.unsqueeze(-1)).sum())
                    results.append((score, is_greedy))
                    if request_str is not None:
                        self.cache_hook.add_partial("loglikelihood", request_str, (score, is_greedy))
                    progress.update(1)
        progress.close()
        return order.get_original(results)

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
