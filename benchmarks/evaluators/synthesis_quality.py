"""``synthesis_quality``: how good an instruction synthesizer's pairs are, on texts it never saw.

The synthesizer (``InstructionSynthesizer``) writes question/answer pairs for the documents of a
tinyworld's evaluation entities (its training data only covers the other entities:
``datamodules.instruction.held_out_documents``). Scored: ``pairs_per_document``; ``parsed``
(documents with at least one well-formed pair); ``answerable`` (answers found in the document as
whole words, ignoring case: the pair is grounded in its context; the quality gate of ``InstructionAugmentation``
measures the same); ``fact_exact_match`` (of the pairs that ask for one of the entity's attributes in
one of the world's wordings, the evaluation's or the synthesizer's own, those whose answer is the
world's fact exactly); ``fact_questions`` (the share of pairs that do).
"""

from __future__ import annotations

from typing import Any

from benchmarks.evaluators import Score, evaluator


@evaluator(version="3", kinds=("causal-lm",))
def synthesis_quality(module: Any, args: dict[str, Any], limit: int | None) -> list[Score]:
    """Score a synthesizer's pairs against a tinyworld's facts.

    Task args:
        domain: tinyworld domain of the documents.
        world: ``WorldConfig`` fields.
        n_documents: Documents of evaluation entities to synthesize for (``limit`` lowers it).
        batch_size: Documents per synthesis batch.
    """
    from datamodules.instruction import held_out_documents, is_answerable
    from datamodules.tinyworld import generate_world
    from datamodules.tinyworld.domain import DOMAINS
    from datamodules.tinyworld.instructions import SYNTHESIZER_QUESTIONS

    domain = args.get("domain", "general")
    world = generate_world(domain=domain, **args.get("world", {}))
    wordings = {a.name: (*a.questions, *SYNTHESIZER_QUESTIONS[domain][a.name]) for a in DOMAINS[domain].attributes}
    entities = {e["name"]: e for e in world.entities}
    wanted = min(args.get("n_documents", 64), limit or args.get("n_documents", 64))
    documents = held_out_documents(world, wanted)
    n, size = len(documents), args.get("batch_size", 16)
    synthesized = [written.pairs for start in range(0, n, size)
                   for written in module.synthesize([d["text"] for d in documents[start:start + size]])]
    pairs_total = answerable = fact_questions = fact_correct = 0
    for document, pairs in zip(documents, synthesized):
        entity = entities[document["entity"]]
        # Every wording of every attribute question about this entity, with its gold answer.
        gold = {template.format(name=entity["name"]).casefold(): entity["attributes"][name]
                for name in entity["attributes"] for template in wordings[name]}
        for pair in pairs:
            pairs_total += 1
            answerable += is_answerable(pair.answer, document["text"])
            if (expected := gold.get(pair.question.strip().casefold())) is not None:
                fact_questions += 1
                fact_correct += pair.answer.strip() == expected
    share = lambda part, whole: part / whole if whole else 0.0
    return [Score("fact_exact_match", share(fact_correct, fact_questions)),
            Score("answerable", share(answerable, pairs_total)),
            Score("pairs_per_document", share(pairs_total, n)),
            Score("parsed", share(sum(bool(pairs) for pairs in synthesized), n)),
            Score("fact_questions", share(fact_questions, pairs_total))]
